//! The report: `results.jsonl`, `report.md` and one SVG chart per benchmark.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead, Write as _};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::sweep::Measurement;
use crate::HarnessError;

/// What a benchmark measures and how to read it. Declared once per benchmark and
/// repeated on every record so that `results.jsonl` stands alone.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchSpec {
    /// The workspace crate the benchmark belongs to, e.g. `dep-tracker`.
    pub crate_name: &'static str,
    /// Short, file-name-safe identifier, e.g. `push`.
    pub bench: &'static str,
    /// One sentence saying what one operation is.
    pub description: &'static str,
    /// The variant every ratio is taken against: the seed's "before".
    pub baseline: &'static str,
    /// The seed's own target figure, quoted beside ours, if the seed names one.
    pub seed_target: Option<&'static str>,
}

/// The first line of `results.jsonl`: where and when the figures were taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always `"header"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Logical cores the benchmark process saw.
    pub cores: usize,
    /// CPU model from `/proc/cpuinfo`, or `unknown`.
    pub cpu_model: String,
    /// `rustc --version`, or `unknown`.
    pub rustc: String,
    /// `git rev-parse --short HEAD`, or `unknown`.
    pub git_commit: String,
    /// UTC time the run started, RFC 3339.
    pub date: String,
    /// `smoke`, `quick` or `full`.
    pub mode: String,
}

/// One measured point: a variant of a benchmark at one thread count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Always `"result"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Crate name.
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// Benchmark identifier.
    pub bench: String,
    /// What one operation is.
    pub description: String,
    /// Implementation measured, e.g. `mutex`, `rwlock`, `boxcar`.
    pub variant: String,
    /// Baseline variant of this benchmark.
    pub baseline: String,
    /// Thread count.
    pub threads: usize,
    /// Median throughput, operations per second.
    pub ops_per_sec: f64,
    /// Median nanoseconds per operation (`1e9 / ops_per_sec`).
    pub ns_per_op: f64,
    /// Lowest sample throughput, operations per second.
    pub min: f64,
    /// Highest sample throughput, operations per second.
    pub max: f64,
    /// Number of samples.
    pub samples: usize,
    /// The seed's target for this benchmark, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_target: Option<String>,
}

impl Record {
    /// Builds the record of `measurement` for `variant` of `spec` at `threads` threads.
    pub fn new(spec: &BenchSpec, variant: &str, threads: usize, measurement: &Measurement) -> Self {
        Record {
            kind: "result".into(),
            crate_name: spec.crate_name.into(),
            bench: spec.bench.into(),
            description: spec.description.into(),
            variant: variant.into(),
            baseline: spec.baseline.into(),
            threads,
            ops_per_sec: measurement.ops_per_sec,
            ns_per_op: measurement.ns_per_op(),
            min: measurement.min_ops_per_sec,
            max: measurement.max_ops_per_sec,
            samples: measurement.samples,
            seed_target: spec.seed_target.map(str::to_owned),
        }
    }
}

/// Writes the header and the records as JSON lines.
pub fn write_jsonl(path: &Path, header: &Header, records: &[Record]) -> Result<(), HarnessError> {
    let mut out = Vec::new();
    serde_json::to_writer(&mut out, header)?;
    out.push(b'\n');
    for record in records {
        serde_json::to_writer(&mut out, record)?;
        out.push(b'\n');
    }
    let mut file = std::fs::File::create(path).map_err(|e| HarnessError::io(path, e))?;
    file.write_all(&out).map_err(|e| HarnessError::io(path, e))
}

/// Reads a `results.jsonl`; lines that are not result records (the header) are skipped,
/// malformed lines are an error naming the line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>, HarnessError> {
    let file = std::fs::File::open(path).map_err(|e| HarnessError::io(path, e))?;
    let mut records = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| HarnessError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).map_err(|source| HarnessError::BadLine {
                path: path.display().to_string(),
                line: index + 1,
                source,
            })?;
        if value.get("type").and_then(|t| t.as_str()) == Some("result") {
            records.push(serde_json::from_value(value).map_err(|source| {
                HarnessError::BadLine {
                    path: path.display().to_string(),
                    line: index + 1,
                    source,
                }
            })?);
        }
    }
    Ok(records)
}

/// Formats a throughput with an SI suffix: `12.3 M`, `950 k`, `42.0`.
pub fn format_rate(ops_per_sec: f64) -> String {
    let (value, suffix) = if ops_per_sec >= 1e9 {
        (ops_per_sec / 1e9, " G")
    } else if ops_per_sec >= 1e6 {
        (ops_per_sec / 1e6, " M")
    } else if ops_per_sec >= 1e3 {
        (ops_per_sec / 1e3, " k")
    } else {
        (ops_per_sec, "")
    };
    if value >= 100.0 {
        format!("{value:.0}{suffix}")
    } else {
        format!("{value:.1}{suffix}")
    }
}

/// The benchmarks present in `records`, in first-seen order, as (crate, bench).
fn benchmarks(records: &[Record]) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for r in records {
        let key = (r.crate_name.clone(), r.bench.clone());
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    seen
}

fn ordered_unique<T: PartialEq + Clone>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Renders one benchmark's table: variants by thread count, each cell the median
/// throughput and its ratio to the baseline at that thread count, and a last column
/// with the variant's throughput at its highest thread count over its 1-thread figure.
pub fn render_table(records: &[Record], crate_name: &str, bench: &str) -> String {
    let rows: Vec<&Record> = records
        .iter()
        .filter(|r| r.crate_name == crate_name && r.bench == bench)
        .collect();
    let Some(first) = rows.first() else {
        return String::new();
    };
    let threads: Vec<usize> = rows
        .iter()
        .map(|r| r.threads)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let variants = ordered_unique(rows.iter().map(|r| r.variant.clone()));
    let find =
        |variant: &str, t: usize| rows.iter().find(|r| r.variant == variant && r.threads == t);
    // Where the baseline was measured only at 1 thread (a sequential "before"), the
    // ratio is taken against that figure and the cell says so.
    let mut against_one_thread = false;
    let mut out = String::new();
    let _ = write!(out, "| variant |");
    for t in &threads {
        let _ = write!(out, " {t} thr |");
    }
    let _ = writeln!(out, " max/1 thr |");
    let _ = write!(out, "|---|");
    for _ in &threads {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out, "---:|");
    for variant in &variants {
        let label = if *variant == first.baseline {
            format!("{variant} (baseline)")
        } else {
            variant.clone()
        };
        let _ = write!(out, "| {label} |");
        for &t in &threads {
            let own_base = find(&first.baseline, t);
            let (base, suffix) = match own_base {
                Some(base) => (Some(base), ""),
                None => (find(&first.baseline, 1), " vs 1 thr"),
            };
            match (find(variant, t), base) {
                (Some(r), Some(base)) if base.ops_per_sec > 0.0 && *variant != first.baseline => {
                    against_one_thread |= own_base.is_none();
                    let _ = write!(
                        out,
                        " {} ({:.2}x{suffix}) |",
                        format_rate(r.ops_per_sec),
                        r.ops_per_sec / base.ops_per_sec
                    );
                }
                (Some(r), _) => {
                    let _ = write!(out, " {} |", format_rate(r.ops_per_sec));
                }
                (None, _) => {
                    let _ = write!(out, " - |");
                }
            }
        }
        let own: Vec<&&Record> = rows.iter().filter(|r| r.variant == *variant).collect();
        let one = own.iter().find(|r| r.threads == 1);
        let most = own.iter().max_by_key(|r| r.threads);
        match (one, most) {
            (Some(one), Some(most)) if most.threads > 1 && one.ops_per_sec > 0.0 => {
                let _ = writeln!(out, " {:.2} |", most.ops_per_sec / one.ops_per_sec);
            }
            _ => {
                let _ = writeln!(out, " - |");
            }
        }
    }
    if against_one_thread {
        let _ = writeln!(
            out,
            "\n`vs 1 thr`: the baseline `{}` was measured only at 1 thread; the ratio is \
             against its 1-thread figure.",
            first.baseline
        );
    }
    out
}

/// Renders `report.md`: one section per crate, one table per benchmark, with the
/// header's machine line at the top. `charts` says whether SVGs were written beside it.
pub fn render_markdown(header: &Header, records: &[Record], charts: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmark report\n");
    let _ = writeln!(
        out,
        "Mode `{}`, {} cores ({}), {}, commit `{}`, {}.\n",
        header.mode, header.cores, header.cpu_model, header.rustc, header.git_commit, header.date
    );
    let _ = writeln!(
        out,
        "Cells are median operations per second over all threads, with the ratio to the \
         baseline variant at the same thread count (`vs 1 thr`: at its 1-thread figure, where \
         the baseline ran only at 1 thread); `max/1 thr` is a variant's throughput at \
         its highest thread count over its own 1-thread figure (1.0 means no collapse).\n"
    );
    let mut current_crate = String::new();
    for (crate_name, bench) in benchmarks(records) {
        if crate_name != current_crate {
            let _ = writeln!(out, "## {crate_name}\n");
            current_crate = crate_name.clone();
        }
        let Some(first) = records
            .iter()
            .find(|r| r.crate_name == crate_name && r.bench == bench)
        else {
            continue;
        };
        let _ = writeln!(out, "### {bench}\n");
        let _ = writeln!(
            out,
            "{} Baseline: `{}`.\n",
            first.description, first.baseline
        );
        if let Some(target) = &first.seed_target {
            let _ = writeln!(out, "Seed's target: {target}\n");
        }
        out.push_str(&render_table(records, &crate_name, &bench));
        if charts {
            let _ = writeln!(
                out,
                "\n![{crate_name} {bench}]({})",
                chart_file_name(&crate_name, &bench)
            );
        }
        out.push('\n');
    }
    out
}

/// The file name of a benchmark's chart.
pub fn chart_file_name(crate_name: &str, bench: &str) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("{}__{}.svg", clean(crate_name), clean(bench))
}

/// Draws throughput against thread count for one benchmark, one line per variant, as SVG.
pub fn render_svg(
    records: &[Record],
    crate_name: &str,
    bench: &str,
) -> Result<String, HarnessError> {
    use plotters::prelude::*;

    let rows: Vec<&Record> = records
        .iter()
        .filter(|r| r.crate_name == crate_name && r.bench == bench)
        .collect();
    let variants = ordered_unique(rows.iter().map(|r| r.variant.clone()));
    let max_threads = rows.iter().map(|r| r.threads).max().unwrap_or(1).max(2);
    let max_rate = rows
        .iter()
        .map(|r| r.max.max(r.ops_per_sec))
        .fold(1.0, f64::max)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(HarnessError::plot)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{crate_name}: {bench}"), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(1usize..max_threads, 0.0..max_rate)
            .map_err(HarnessError::plot)?;
        chart
            .configure_mesh()
            .x_desc("threads")
            .y_desc("ops/s")
            .y_label_formatter(&|v| format_rate(*v))
            .draw()
            .map_err(HarnessError::plot)?;
        for (index, variant) in variants.iter().enumerate() {
            let color = Palette99::pick(index).to_rgba();
            let mut points: Vec<(usize, f64)> = rows
                .iter()
                .filter(|r| &r.variant == variant)
                .map(|r| (r.threads, r.ops_per_sec))
                .collect();
            points.sort_by_key(|p| p.0);
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(HarnessError::plot)?
                .label(variant.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(HarnessError::plot)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(HarnessError::plot)?;
        root.present().map_err(HarnessError::plot)?;
    }
    Ok(svg)
}

/// A regression table of `new` against `old`: for each (crate, bench, variant, threads)
/// present in both, the ratio of medians, flagged when the new maximum is below the old
/// minimum (a drop beyond the noise of the min-max range).
pub fn render_comparison(old: &[Record], new: &[Record]) -> (String, usize) {
    let mut out = String::from("| crate | bench | variant | threads | old | new | new/old | |\n|---|---|---|---:|---:|---:|---:|---|\n");
    let mut regressions = 0;
    for n in new {
        let Some(o) = old.iter().find(|o| {
            o.crate_name == n.crate_name
                && o.bench == n.bench
                && o.variant == n.variant
                && o.threads == n.threads
        }) else {
            continue;
        };
        let ratio = if o.ops_per_sec > 0.0 {
            n.ops_per_sec / o.ops_per_sec
        } else {
            f64::NAN
        };
        let flag = if n.max < o.min {
            regressions += 1;
            "REGRESSION"
        } else if n.min > o.max {
            "improved"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            n.crate_name,
            n.bench,
            n.variant,
            n.threads,
            format_rate(o.ops_per_sec),
            format_rate(n.ops_per_sec),
            ratio,
            flag
        );
    }
    (out, regressions)
}

/// Writes `results.jsonl`, `report.md` and the charts into `dir` (created if missing).
/// Returns the rendered markdown.
pub fn write_report(
    dir: &Path,
    header: &Header,
    records: &[Record],
) -> Result<String, HarnessError> {
    std::fs::create_dir_all(dir).map_err(|e| HarnessError::io(dir, e))?;
    write_jsonl(&dir.join("results.jsonl"), header, records)?;
    for (crate_name, bench) in benchmarks(records) {
        let svg = render_svg(records, &crate_name, &bench)?;
        let path = dir.join(chart_file_name(&crate_name, &bench));
        std::fs::write(&path, svg).map_err(|e| HarnessError::io(&path, e))?;
    }
    let markdown = render_markdown(header, records, true);
    let path = dir.join("report.md");
    std::fs::write(&path, &markdown).map_err(|e| HarnessError::io(&path, e))?;
    Ok(markdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: BenchSpec = BenchSpec {
        crate_name: "demo",
        bench: "push",
        description: "One push.",
        baseline: "mutex",
        seed_target: Some("3M ops/s"),
    };

    fn record(variant: &str, threads: usize, rate: f64) -> Record {
        let m = Measurement::from_samples(&[rate * 0.9, rate, rate * 1.1]).unwrap();
        Record::new(&SPEC, variant, threads, &m)
    }

    fn header() -> Header {
        Header {
            kind: "header".into(),
            cores: 2,
            cpu_model: "test cpu".into(),
            rustc: "rustc 1.0".into(),
            git_commit: "abc123".into(),
            date: "2026-01-01T00:00:00Z".into(),
            mode: "quick".into(),
        }
    }

    #[test]
    fn rates_are_formatted_with_si_suffixes() {
        assert_eq!(format_rate(12_345_678.0), "12.3 M");
        assert_eq!(format_rate(950_000.0), "950 k");
        assert_eq!(format_rate(42.0), "42.0");
        assert_eq!(format_rate(2.5e9), "2.5 G");
    }

    #[test]
    fn table_shows_ratios_against_the_baseline_and_collapse() {
        let records = vec![
            record("mutex", 1, 10e6),
            record("mutex", 2, 5e6),
            record("boxcar", 1, 20e6),
            record("boxcar", 2, 20e6),
        ];
        let table = render_table(&records, "demo", "push");
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "| variant | 1 thr | 2 thr | max/1 thr |");
        assert_eq!(lines[2], "| mutex (baseline) | 10.0 M | 5.0 M | 0.50 |");
        assert_eq!(
            lines[3],
            "| boxcar | 20.0 M (2.00x) | 20.0 M (4.00x) | 1.00 |"
        );
    }

    #[test]
    fn missing_points_are_dashes() {
        let records = vec![record("mutex", 2, 1e3), record("boxcar", 1, 2e3)];
        let table = render_table(&records, "demo", "push");
        assert!(
            table.contains("| mutex (baseline) | - | 1.0 k | - |"),
            "{table}"
        );
        assert!(table.contains("| boxcar | 2.0 k | - | - |"), "{table}");
        assert!(!table.contains("vs 1 thr"), "{table}");
    }

    #[test]
    fn a_baseline_measured_only_at_one_thread_still_gives_every_cell_a_ratio() {
        let records = vec![
            record("mutex", 1, 2.0),
            record("boxcar", 1, 1.8),
            record("boxcar", 2, 3.5),
            record("boxcar", 8, 3.8),
        ];
        let table = render_table(&records, "demo", "push");
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[2], "| mutex (baseline) | 2.0 | - | - | - |");
        assert_eq!(
            lines[3],
            "| boxcar | 1.8 (0.90x) | 3.5 (1.75x vs 1 thr) | 3.8 (1.90x vs 1 thr) | 2.11 |"
        );
        assert!(
            table.ends_with(
                "`vs 1 thr`: the baseline `mutex` was measured only at 1 thread; \
                 the ratio is against its 1-thread figure.\n"
            ),
            "{table}"
        );
    }

    #[test]
    fn jsonl_round_trips_and_carries_the_header() {
        let dir = tempdir();
        let path = dir.join("results.jsonl");
        let records = vec![record("mutex", 1, 1e6), record("boxcar", 1, 2e6)];
        write_jsonl(&path, &header(), &records).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["type"], "header");
        assert_eq!(first["cores"], 2);
        let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        for key in [
            "crate",
            "bench",
            "variant",
            "threads",
            "ops_per_sec",
            "ns_per_op",
            "min",
            "max",
            "samples",
        ] {
            assert!(second.get(key).is_some(), "missing {key}");
        }
        assert_eq!(read_jsonl(&path).unwrap(), records);
    }

    #[test]
    fn malformed_jsonl_names_the_line() {
        let dir = tempdir();
        let path = dir.join("bad.jsonl");
        std::fs::write(&path, "{\"type\":\"header\"}\nnot json\n").unwrap();
        let err = read_jsonl(&path).unwrap_err().to_string();
        assert!(err.contains(":2"), "{err}");
    }

    #[test]
    fn markdown_has_a_section_per_crate_and_the_seed_target() {
        let mut records = vec![record("mutex", 1, 1e6)];
        let other = BenchSpec {
            crate_name: "other",
            bench: "read",
            ..SPEC
        };
        records.push(Record::new(
            &other,
            "mutex",
            1,
            &Measurement::from_samples(&[1.0]).unwrap(),
        ));
        let md = render_markdown(&header(), &records, true);
        assert!(md.contains("## demo"));
        assert!(md.contains("## other"));
        assert!(md.contains("Seed's target: 3M ops/s"));
        assert!(md.contains("demo__push.svg"));
    }

    #[test]
    fn svg_has_one_line_per_variant() {
        let records = vec![
            record("mutex", 1, 1e6),
            record("mutex", 2, 1e6),
            record("boxcar", 1, 2e6),
            record("boxcar", 2, 3e6),
        ];
        let svg = render_svg(&records, "demo", "push").unwrap();
        assert!(svg.starts_with("<svg"));
        // One marker per measured point, and each variant named in the legend.
        assert_eq!(svg.matches("<circle").count(), 4, "{svg}");
        assert!(svg.contains("boxcar") && svg.contains("mutex"), "{svg}");
    }

    #[test]
    fn comparison_flags_drops_beyond_the_noise() {
        let old = vec![record("mutex", 1, 10e6), record("mutex", 2, 10e6)];
        let new = vec![record("mutex", 1, 10.5e6), record("mutex", 2, 5e6)];
        let (table, regressions) = render_comparison(&old, &new);
        assert_eq!(regressions, 1);
        assert!(table.contains("REGRESSION"));
        assert_eq!(table.matches("REGRESSION").count(), 1);
    }

    fn tempdir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "bench-harness-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
