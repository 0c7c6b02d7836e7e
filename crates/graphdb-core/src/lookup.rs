//! Index management and the lookups that use the indexes: [`GraphDB::create_index`],
//! [`GraphDB::drop_index`], label and property lookups at any snapshot, and range lookups.

use std::ops::Bound;
use std::sync::Arc;

use crate::db::{node_versions, GraphDB};
use crate::error::{GraphError, Result};
use crate::index::{
    compare_values, key_node, load_catalog, store_catalog, tree_free, tree_insert, tree_scan,
    value_key, CatalogEntry, IndexDef, MAX_VALUE_KEY,
};
use crate::records::{RecordStore, MAX_ID};
use crate::sync::Ordering;
use crate::types::{Node, NodeId, PropertyValue, TxId};

/// How many lookups used an index and how many scanned every node (since open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LookupStats {
    /// Lookups answered from an index.
    pub index_lookups: u64,
    /// Lookups that scanned every node because no index covered them.
    pub full_scans: u64,
}

/// One bound of a range lookup.
fn lower_key(b: Bound<&PropertyValue>) -> Vec<u8> {
    match b {
        Bound::Included(v) | Bound::Excluded(v) => value_key(v),
        Bound::Unbounded => Vec::new(),
    }
}

fn upper_key(b: Bound<&PropertyValue>) -> Vec<u8> {
    match b {
        Bound::Included(v) | Bound::Excluded(v) => {
            let mut k = value_key(v);
            k.extend_from_slice(&[0xFF; 9]);
            k
        }
        Bound::Unbounded => vec![0xFF; MAX_VALUE_KEY + 9],
    }
}

fn in_range(v: &PropertyValue, lo: Bound<&PropertyValue>, hi: Bound<&PropertyValue>) -> bool {
    use std::cmp::Ordering::*;
    let above = match lo {
        Bound::Included(l) => compare_values(v, l) != Less,
        Bound::Excluded(l) => compare_values(v, l) == Greater,
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(h) => compare_values(v, h) != Greater,
        Bound::Excluded(h) => compare_values(v, h) == Less,
        Bound::Unbounded => true,
    };
    above && below
}

impl GraphDB {
    /// Creates an index and fills it from every stored version of every node (so older
    /// snapshots can use it too). The index is logged and synced as one commit, kept up to
    /// date by every later commit and vacuum, and survives crashes like the records do.
    /// Returns the number of entries. Creating an index that exists is an error.
    pub fn create_index(&mut self, def: IndexDef) -> Result<u64> {
        if def.label.is_empty() || def.property.as_deref() == Some("") {
            return Err(GraphError::InvalidArgument(
                "an index needs a label (and a non-empty property name)".into(),
            ));
        }
        self.maintenance_commit(|pager| {
            let mut catalog = load_catalog(pager)?;
            if catalog.iter().any(|e| e.def == def) {
                return Err(GraphError::InvalidArgument(format!(
                    "index {def} already exists"
                )));
            }
            let meta = pager.meta().clone();
            let mut keys = Vec::new();
            {
                let mut rs = RecordStore::new(pager);
                for id in 1..meta.next_node_id.min(MAX_ID + 1) {
                    for r in node_versions(&mut rs, meta.node_root, id)? {
                        if let Some(k) = def.key_for(id, &r.labels, &r.properties) {
                            keys.push(k);
                        }
                    }
                }
            }
            // Sorted inserts fill pages left to right and split each only once.
            keys.sort_unstable();
            keys.dedup();
            let mut root = 0;
            for k in &keys {
                tree_insert(pager, &mut root, k)?;
            }
            catalog.push(CatalogEntry { def, root });
            store_catalog(pager, &catalog)?;
            Ok(keys.len() as u64)
        })
    }

    /// Drops an index and frees its pages. Dropping an index that does not exist is an
    /// error.
    pub fn drop_index(&mut self, def: &IndexDef) -> Result<()> {
        self.maintenance_commit(|pager| {
            let mut catalog = load_catalog(pager)?;
            let Some(pos) = catalog.iter().position(|e| e.def == *def) else {
                return Err(GraphError::InvalidArgument(format!("no index {def}")));
            };
            let entry = catalog.remove(pos);
            tree_free(pager, entry.root)?;
            store_catalog(pager, &catalog)
        })
    }

    /// The indexes of the database, in creation order.
    pub fn indexes(&self) -> Result<Vec<IndexDef>> {
        let mut pager = self.pager.lock()?;
        Ok(load_catalog(&mut pager)?
            .into_iter()
            .map(|e| e.def)
            .collect())
    }

    /// How many lookups used an index and how many scanned.
    pub fn lookup_stats(&self) -> LookupStats {
        LookupStats {
            index_lookups: self.index_lookups.load(Ordering::Relaxed),
            full_scans: self.scan_lookups.load(Ordering::Relaxed),
        }
    }

    /// The node ids of the keys in `lo..=hi` of the index `def`, or `None` when there is
    /// no such index.
    fn index_candidates(
        &self,
        def: &IndexDef,
        lo: &[u8],
        hi: &[u8],
    ) -> Result<Option<Vec<NodeId>>> {
        let mut pager = self.pager.lock()?;
        let catalog = load_catalog(&mut pager)?;
        let Some(entry) = catalog.iter().find(|e| e.def == *def) else {
            return Ok(None);
        };
        let mut ids = Vec::new();
        tree_scan(&mut pager, entry.root, lo, hi, |k| {
            if let Some(id) = key_node(k) {
                ids.push(id);
            }
            true
        })?;
        Ok(Some(ids))
    }

    /// Candidates from the index (or a scan), plus the transaction's own writes, each
    /// checked against the version the snapshot sees. Results share the node cache's
    /// versions: a hit costs one shard read and a reference count, not a copy of the
    /// node's labels and properties.
    fn lookup(
        &self,
        def: &IndexDef,
        lo: &[u8],
        hi: &[u8],
        snapshot_ts: u64,
        tx_id: Option<TxId>,
        keep: impl Fn(&Node) -> bool,
    ) -> Result<Vec<Arc<Node>>> {
        let mut ids = match self.index_candidates(def, lo, hi)? {
            Some(ids) => {
                self.index_lookups.fetch_add(1, Ordering::Relaxed);
                ids
            }
            None => {
                self.scan_lookups.fetch_add(1, Ordering::Relaxed);
                let found = self.scan_nodes(snapshot_ts, &keep)?;
                if !self.has_pending_writes(tx_id) {
                    return Ok(found.into_iter().map(Arc::new).collect());
                }
                found.into_iter().map(|n| n.id).collect()
            }
        };
        let mine = self.pending_node_ids(tx_id);
        ids.extend(&mine);
        // A range's candidates are runs of ascending ids (one per key value): a stable
        // sort merges the runs.
        ids.sort();
        ids.dedup();
        // One probe of the node cache for all candidates (each shard locked once); a
        // transaction's own write comes first, and a miss is read once and cached
        // (`get_node_shared`).
        let cached = self.node_cache.get_many(&ids, snapshot_ts);
        let mut found = Vec::with_capacity(ids.len());
        for (id, hit) in ids.into_iter().zip(cached) {
            let node = match hit {
                Some(n) if mine.binary_search(&id).is_err() => Some(n),
                _ => self.get_node_shared(id, snapshot_ts, tx_id)?,
            };
            if let Some(n) = node.filter(|n| keep(n)) {
                found.push(n);
            }
        }
        Ok(found)
    }

    /// Every node carrying `label` that a snapshot (and optionally a write transaction's
    /// own writes) sees, in id order, sharing the cached versions.
    pub(crate) fn get_nodes_by_label_shared_at(
        &self,
        label: &str,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Arc<Node>>> {
        self.lookup(
            &IndexDef::label(label),
            &[0; 8],
            &[0xFF; 8],
            snapshot_ts,
            tx_id,
            |n| n.has_label(label),
        )
    }

    /// Every node with `label` whose `key` equals `value` at a snapshot, in id order,
    /// sharing the cached versions.
    pub(crate) fn find_nodes_by_property_shared_at(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Arc<Node>>> {
        let vk = value_key(value);
        let mut lo = vk.clone();
        lo.extend_from_slice(&[0; 8]);
        let mut hi = vk;
        hi.extend_from_slice(&[0xFF; 8]);
        self.lookup(
            &IndexDef::property(label, key),
            &lo,
            &hi,
            snapshot_ts,
            tx_id,
            |n| {
                n.has_label(label)
                    && n.properties
                        .get(key)
                        .is_some_and(|v| compare_values(v, value).is_eq())
            },
        )
    }

    /// Like [`find_nodes_by_property_range`](Self::find_nodes_by_property_range), but the
    /// results share the node cache's versions instead of being copies (see
    /// [`find_nodes_by_property_shared`](Self::find_nodes_by_property_shared)).
    pub fn find_nodes_by_property_range_shared(
        &self,
        label: &str,
        key: &str,
        lo: Bound<&PropertyValue>,
        hi: Bound<&PropertyValue>,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Arc<Node>>> {
        self.lookup(
            &IndexDef::property(label, key),
            &lower_key(lo),
            &upper_key(hi),
            snapshot_ts,
            tx_id,
            |n| n.has_label(label) && n.properties.get(key).is_some_and(|v| in_range(v, lo, hi)),
        )
    }

    /// Every node carrying `label` that a snapshot (and optionally a write transaction's
    /// own writes) sees, in id order.
    pub(crate) fn get_nodes_by_label_at(
        &self,
        label: &str,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Node>> {
        Ok(owned(self.get_nodes_by_label_shared_at(
            label,
            snapshot_ts,
            tx_id,
        )?))
    }

    /// Every node with `label` whose `key` equals `value` at a snapshot, in id order.
    pub(crate) fn find_nodes_by_property_at(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Node>> {
        Ok(owned(self.find_nodes_by_property_shared_at(
            label,
            key,
            value,
            snapshot_ts,
            tx_id,
        )?))
    }

    /// Every node with `label` whose `key` lies between the bounds in the index order
    /// ([`compare_values`]: values of another type than the bounds
    /// sort before or after them as whole types do), at a snapshot, in id order.
    pub fn find_nodes_by_property_range(
        &self,
        label: &str,
        key: &str,
        lo: Bound<&PropertyValue>,
        hi: Bound<&PropertyValue>,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Node>> {
        Ok(owned(self.find_nodes_by_property_range_shared(
            label,
            key,
            lo,
            hi,
            snapshot_ts,
            tx_id,
        )?))
    }
}

/// Copies of shared results, for the lookups that return owned nodes.
fn owned(nodes: Vec<Arc<Node>>) -> Vec<Node> {
    nodes.into_iter().map(Arc::unwrap_or_clone).collect()
}
