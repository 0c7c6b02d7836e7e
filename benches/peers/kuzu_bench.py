#!/usr/bin/env python3
"""Kuzu beside graphdb: the graph workloads of `cargo xtask bench --crate graphdb`.

The Rust benchmark (benches/src/graphdb_kuzu.rs) writes the CSV files, runs this script
and prints its figures beside graphdb's. The script loads the files into a fresh Kuzu
database `--samples` times (the import is timed from `COPY` to the end of the last
`COPY`), then on the last database times: a breadth-first search from one node over
the whole graph in both directions with levels, weakly connected components, and
`--two-hop` two-hop neighbourhood counts. It prints one JSON object on stdout; times are
in seconds, one entry per sample.

Exit status 3 (and a line on stderr) when the `kuzu` package is not installed.
"""

import argparse
import json
import os
import random
import shutil
import sys
import time


def du(path):
    """Bytes of a file, or of every file under a directory."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", required=True, help="nodes CSV (:ID,:LABEL,age:long,name:string)")
    p.add_argument("--edges", required=True, help="edges CSV (:START_ID,:END_ID,:TYPE,since:long)")
    p.add_argument("--dir", required=True, help="scratch directory for the databases")
    p.add_argument("--samples", type=int, default=3)
    p.add_argument("--start", type=int, default=1, help="BFS start node id")
    p.add_argument("--two-hop", type=int, default=200, help="two-hop queries per sample")
    p.add_argument("--node-count", type=int, required=True)
    p.add_argument("--threads", type=int, default=1, help="Kuzu worker threads")
    args = p.parse_args()
    try:
        import kuzu
    except ImportError as e:
        print(f"kuzu not installed: {e}", file=sys.stderr)
        return 3

    out = {"version": getattr(kuzu, "__version__", "?"), "threads": args.threads}
    nodes = os.path.abspath(args.nodes)
    edges = os.path.abspath(args.edges)
    import_s = []
    db = conn = None
    path = None
    for i in range(max(1, args.samples)):
        conn = db = None
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)
            if os.path.exists(path):
                os.remove(path)
        path = os.path.join(args.dir, f"kuzu-{i}")
        db = kuzu.Database(path, max_num_threads=args.threads)
        conn = kuzu.Connection(db, num_threads=args.threads)
        conn.execute("CREATE NODE TABLE Node(id INT64, labels STRING, age INT64, "
                     "name STRING, PRIMARY KEY (id))")
        conn.execute("CREATE REL TABLE Edge(FROM Node TO Node, type STRING, since INT64)")
        t = time.perf_counter()
        conn.execute(f"COPY Node FROM '{nodes}' (HEADER=true)")
        conn.execute(f"COPY Edge FROM '{edges}' (HEADER=true)")
        import_s.append(time.perf_counter() - t)
    out["import_s"] = import_s
    # The size after import, as graphdb's is measured: the files once the handle is closed.
    conn = None
    db = None
    out["size_bytes"] = du(path) + (du(path + ".wal") if os.path.exists(path + ".wal") else 0)
    db = kuzu.Database(path, max_num_threads=args.threads)
    conn = kuzu.Connection(db, num_threads=args.threads)
    count = conn.execute("MATCH (n:Node) RETURN count(*)").get_next()[0]
    out["records"] = count + conn.execute("MATCH ()-[e:Edge]->() RETURN count(*)").get_next()[0]

    bfs_s, reached = [], 0
    for _ in range(max(1, args.samples)):
        t = time.perf_counter()
        r = conn.execute(
            "MATCH p = (a:Node {id: $s})-[:Edge* SHORTEST 1..30]-(b:Node) "
            "RETURN b.id, length(p)", {"s": args.start})
        levels = {args.start: 0}
        while r.has_next():
            b, d = r.get_next()
            levels[b] = d
        bfs_s.append(time.perf_counter() - t)
        reached = len(levels)
    out["bfs_s"], out["bfs_reached"] = bfs_s, reached

    wcc_s, components = [], 0
    for _ in range(max(1, args.samples)):
        t = time.perf_counter()
        conn.execute("CALL project_graph('G', ['Node'], ['Edge'])")
        r = conn.execute("CALL weakly_connected_components('G') "
                         "RETURN count(DISTINCT group_id)")
        components = r.get_next()[0]
        wcc_s.append(time.perf_counter() - t)
        conn.execute("CALL drop_projected_graph('G')")
    out["wcc_s"], out["components"] = wcc_s, components

    rng = random.Random(7)
    two_hop_s, total = [], 0
    for _ in range(max(1, args.samples)):
        ids = [rng.randint(1, args.node_count) for _ in range(args.two_hop)]
        t = time.perf_counter()
        for v in ids:
            r = conn.execute(
                "MATCH (a:Node {id: $v})-[:Edge*1..2]->(b:Node) WHERE b.id <> $v "
                "RETURN count(DISTINCT b)", {"v": v})
            total += r.get_next()[0]
        two_hop_s.append(time.perf_counter() - t)
    out["two_hop_s"], out["two_hop_queries"], out["two_hop_total"] = (
        two_hop_s, args.two_hop, total)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
