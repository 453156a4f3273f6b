//! `--metrics`, scraped by a real Prometheus (Debian's `prometheus` package, which `.ci/run`
//! installs): proctrace runs as a metrics-only agent (`--no-events`), Prometheus scrapes it
//! every second on loopback, a workload with known numbers runs (N forks; M zombies of one
//! parent in a cgroup named like a docker container, left unreaped past the zombie threshold,
//! then reaped), and Prometheus's query API must show them. `promtool check metrics` must
//! accept a scrape, and every PromQL expression of the Grafana dashboard
//! (deploy/grafana/proctrace.json) must be accepted by the query API.
//!
//! Prometheus missing fails the test (it is never skipped). The kernel-matrix guests, which
//! have no Prometheus, skip `metrics::` (xtask/src/kernel_matrix/scripts.rs, GUEST_SKIP).
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    thread::{sleep, JoinHandle},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{exit_within, proctrace_bin, random_hex64, scenario_bin, TestCgroup};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";
/// Forks of the `spawn` scenario.
const FORKS: u64 = 300;
/// Zombies left unreaped in the container.
const ZOMBIES: usize = 4;

/// A plain-HTTP client that never goes through a proxy from the environment and reports
/// 4xx/5xx answers as answers.
fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .new_agent()
}

/// A port nobody listens on now (the kernel's choice of a free one).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Reads a child's pipe to the end on a thread of its own, so the child never blocks on it.
fn drain(pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(pipe).read_to_string(&mut s);
        s
    })
}

/// proctrace as a metrics-only agent; killed on drop (a failing test leaves nothing behind).
struct Agent {
    child: Child,
    port: u16,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Agent {
    fn start() -> Agent {
        assert!(
            // SAFETY: no arguments, cannot fail.
            unsafe { libc::geteuid() } == 0,
            "privileged tests must run as root (they load BPF programs)"
        );
        let port = free_port();
        let mut child = Command::new(proctrace_bin())
            .args(["--metrics", &format!("127.0.0.1:{port}"), "--no-events"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn proctrace");
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        let mut agent = Agent {
            child,
            port,
            stdout,
            stderr,
        };
        // The server answers before the programs are attached; `proctrace_ring_buffer_bytes`
        // is set from the `start` record, once tracing runs.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = agent.child.try_wait().expect("try_wait") {
                panic!(
                    "proctrace exited with {status} before tracing; stderr:\n{}",
                    agent.stderr()
                );
            }
            let ready = agent
                .scrape(None)
                .ok()
                .and_then(|(_, text)| sample(&text, "proctrace_ring_buffer_bytes"))
                .is_some_and(|bytes| bytes > 0.0);
            if ready {
                return agent;
            }
            assert!(
                Instant::now() < deadline,
                "proctrace did not start tracing within 60 s"
            );
            sleep(Duration::from_millis(100));
        }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// GET /metrics: (Content-Type, body).
    fn scrape(&self, accept: Option<&str>) -> Result<(String, String), ureq::Error> {
        let mut request = http().get(format!("http://{}/metrics", self.target()));
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let mut response = request.call()?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((content_type, response.body_mut().read_to_string()?))
    }

    fn stderr(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    /// SIGINT: exits 0 within 2 s, and printed nothing on stdout.
    fn stop(mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = exit_within(&mut self.child, Duration::from_secs(2));
        let stdout = self
            .stdout
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let stderr = self.stderr();
        assert!(status.success(), "proctrace exited with {status}: {stderr}");
        assert_eq!(stdout, "", "--no-events: nothing on stdout");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Prometheus scraping `target` every second, with its own storage in a temporary
/// directory; killed, and the directory removed, on drop.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: install Debian's `prometheus` package (.ci/run does)"
        );
        let dir = std::env::temp_dir().join(format!(
            "proctrace-prometheus-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(dir.join("data")).expect("create the Prometheus directory");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  \
                 evaluation_interval: 1s\nscrape_configs:\n  - job_name: proctrace\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn prometheus");
        let mut prometheus = Prometheus {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = prometheus.child.try_wait().expect("try_wait") {
                panic!("prometheus exited with {status}:\n{}", prometheus.log());
            }
            let ready = http()
                .get(format!("{}/-/ready", prometheus.url))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return prometheus;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within 30 s:\n{}",
                prometheus.log()
            );
            sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// `/api/v1/query`: the whole answer, whatever its status.
    fn api(&self, expr: &str) -> Value {
        let mut response = http()
            .get(format!("{}/api/v1/query", self.url))
            .query("query", expr)
            .call()
            .unwrap_or_else(|e| panic!("query {expr:?}: {e}"));
        let body = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("query {expr:?}: {e}"));
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("query {expr:?}: {e}: {body}"))
    }

    /// The samples of an instant vector query: (labels, value).
    fn query(&self, expr: &str) -> Vec<(Value, f64)> {
        let answer = self.api(expr);
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
        answer["data"]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{expr}: no result: {answer}"))
            .iter()
            .map(|s| {
                let value = s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{expr}: a value: {s}"));
                (s["metric"].clone(), value)
            })
            .collect()
    }

    /// The value of a query that gives at most one sample.
    fn value(&self, expr: &str) -> Option<f64> {
        let samples = self.query(expr);
        assert!(
            samples.len() <= 1,
            "{expr}: one sample expected: {samples:?}"
        );
        samples.first().map(|(_, v)| *v)
    }

    /// Polls `expr` until `pred` holds of its value (`None`: no sample), for up to `within`.
    fn until(
        &self,
        within: Duration,
        expr: &str,
        pred: impl Fn(Option<f64>) -> bool,
    ) -> Option<f64> {
        let deadline = Instant::now() + within;
        loop {
            let value = self.value(expr);
            if pred(value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{expr} is still {value:?} after {within:?}"
            );
            sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The value of an unlabelled sample in a text exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The mount of the cgroup hierarchy proctrace names in `start.cgroup_hierarchy` (which a
/// metrics-only agent does not print): the first mounted v1 hierarchy of its preference
/// order (proctrace/src/cgroup/hierarchy.rs, V1_PREFERENCE), else the cgroup2 one.
fn cgroup_hierarchy_mount() -> String {
    const V1_PREFERENCE: [&str; 8] = [
        "pids", "memory", "cpu", "cpuacct", "blkio", "devices", "freezer", "cpuset",
    ];
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mut v1: Vec<(usize, String)> = Vec::new();
    let mut v2 = None;
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount) = before.split(' ').nth(4) else {
            continue;
        };
        let mut rest = after.split(' ');
        let (fstype, options) = (rest.next(), rest.nth(1).unwrap_or_default());
        match fstype {
            Some("cgroup2") if v2.is_none() => v2 = Some(mount.to_owned()),
            Some("cgroup") => {
                if let Some(rank) = options
                    .split(',')
                    .filter_map(|o| V1_PREFERENCE.iter().position(|c| *c == o))
                    .min()
                {
                    v1.push((rank, mount.to_owned()));
                }
            }
            _ => {}
        }
    }
    v1.sort();
    v1.into_iter()
        .next()
        .map(|(_, m)| m)
        .or(v2)
        .expect("a mounted cgroup hierarchy")
}

/// `proctrace-scenario parent-kind default N PROCS`: N children that move into the cgroup
/// and exit at once, left unreaped (the parent never waits) until its stdin closes. Killed
/// on drop.
struct ZombieParent {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<std::process::ChildStdout>,
}

impl ZombieParent {
    fn spawn(n: usize, procs: &Path) -> (ZombieParent, Value) {
        let mut child = Command::new(scenario_bin())
            .args(["parent-kind", "default", &n.to_string()])
            .arg(procs)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the parent-kind scenario");
        let stdin = child.stdin.take();
        let mut parent = ZombieParent {
            out: BufReader::new(child.stdout.take().expect("stdout")),
            child,
            stdin,
        };
        let line = parent.line();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("parent-kind printed {line:?} ({e})"));
        (parent, v)
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).expect("read the scenario");
        line
    }

    /// Closes its stdin: it reaps its children, says how many, and exits.
    fn reap(mut self) -> Value {
        drop(self.stdin.take());
        let line = self.line();
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "parent-kind: {status}");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }
}

impl Drop for ZombieParent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The counters, gauges and histograms as a real Prometheus scraped them, against a workload
/// with known numbers; `promtool check metrics` on a scrape; the exposition formats.
#[test]
fn a_real_prometheus_scrapes_the_workload() {
    let began = Instant::now();
    let agent = Agent::start();
    let prometheus = Prometheus::start(&agent.target());
    prometheus.until(Duration::from_secs(20), "proctrace_up", |v| v == Some(1.0));
    prometheus.until(Duration::from_secs(5), "up{job=\"proctrace\"}", |v| {
        v == Some(1.0)
    });
    assert_eq!(
        prometheus.value("proctrace_ring_buffer_bytes"),
        Some(4_194_304.0)
    );
    assert!(prometheus
        .value("proctrace_resident_memory_bytes")
        .is_some_and(|b| b > 1e6));
    assert!(prometheus
        .value("proctrace_processes{state=\"alive\"}")
        .is_some_and(|n| n >= 1.0));
    let forks_before = prometheus.value("proctrace_forks_total").expect("forks");
    let long_lived = "sum(proctrace_reaps_total{class=\"long_lived\"})";
    let long_lived_before = prometheus.value(long_lived).expect("reaps");
    // Zombie times of a second and more: the histogram's count above its 1 s bucket (`le` is
    // "1.0" as OpenMetrics, which Prometheus asks for, writes it).
    let over_1s = "sum(proctrace_zombie_duration_seconds_count) - \
                   sum(proctrace_zombie_duration_seconds_bucket{le=~\"1(\\\\.0)?\"})";
    let over_1s_before = prometheus.value(over_1s).expect("histogram");
    let alerts = "sum(proctrace_zombie_alerts_total)";
    let alerts_before = prometheus.value(alerts).expect("alerts");

    // N forks, each reaped at once.
    let spawn = Command::new(scenario_bin())
        .args(["spawn", &FORKS.to_string()])
        .output()
        .expect("run spawn");
    assert!(spawn.status.success(), "spawn: {}", spawn.status);

    // M zombies in a container, left unreaped past the 1 s threshold.
    let id = random_hex64();
    let cgroup = TestCgroup::create(&cgroup_hierarchy_mount(), &format!("docker-{id}.scope"));
    let (parent, children) = ZombieParent::spawn(ZOMBIES, &cgroup.procs());
    assert_eq!(
        children["children"].as_array().map(Vec::len),
        Some(ZOMBIES),
        "{children}"
    );
    let zombies = format!("proctrace_zombies{{container=\"{id}\"}}");
    let m = ZOMBIES as f64;
    prometheus.until(Duration::from_secs(10), &zombies, |v| v == Some(m));
    let oldest = format!("proctrace_zombie_oldest_age_seconds{{container=\"{id}\"}}");
    // Past the threshold (with the gauge's 1 s refresh and the 1 s scrape behind it).
    prometheus.until(Duration::from_secs(10), &oldest, |v| {
        v.is_some_and(|age| age >= 1.5)
    });
    assert_eq!(prometheus.value(&zombies), Some(m), "still all unreaped");
    prometheus.until(Duration::from_secs(10), alerts, |v| {
        v.is_some_and(|n| n >= alerts_before + m)
    });

    let reaped = parent.reap();
    assert_eq!(reaped["reaped"], ZOMBIES, "{reaped}");
    // Reaped: the container's series are gone (a stale marker: no sample any more).
    prometheus.until(Duration::from_secs(10), &zombies, |v| v.is_none());
    assert_eq!(prometheus.value(&oldest), None);
    prometheus.until(Duration::from_secs(10), long_lived, |v| {
        v.is_some_and(|n| n >= long_lived_before + m)
    });
    prometheus.until(Duration::from_secs(5), over_1s, |v| {
        v.is_some_and(|n| n >= over_1s_before + m)
    });
    drop(cgroup);

    // Other processes fork too: at least ours, never fewer.
    let forks = (FORKS + 1) as f64 + m + 1.0;
    prometheus.until(Duration::from_secs(5), "proctrace_forks_total", |v| {
        v.is_some_and(|n| n - forks_before >= forks)
    });
    let n = FORKS as f64;
    assert!(
        prometheus
            .value("increase(proctrace_forks_total[5m])")
            .is_some_and(|v| v >= n),
        "increase(proctrace_forks_total[5m]) below {n}"
    );
    assert!(
        prometheus
            .value("sum(increase(proctrace_exits_total[5m]))")
            .is_some_and(|v| v >= n),
        "exits"
    );
    assert!(
        prometheus
            .value(
                "histogram_quantile(0.5, sum by (le) (proctrace_zombie_duration_seconds_bucket))"
            )
            .is_some_and(f64::is_finite),
        "the zombie duration histogram has buckets"
    );
    for labels in prometheus.query("proctrace_reaps_total") {
        let (labels, _) = labels;
        let how = labels["how"].as_str().unwrap_or_default();
        let class = labels["class"].as_str().unwrap_or_default();
        assert!(["wait", "autoreap", "release"].contains(&how), "{labels}");
        assert!(
            ["transient", "long_lived", "unknown"].contains(&class),
            "{labels}"
        );
    }
    // Never a pid, argv or comm label by default.
    let labels = prometheus.api("count by (__name__) ({__name__=~\"proctrace_.*\", comm!=\"\"})");
    assert_eq!(
        labels["data"]["result"],
        Value::Array(Vec::new()),
        "{labels}"
    );

    // The text format passes promtool's checks; OpenMetrics when asked.
    let (content_type, text) = agent.scrape(None).expect("scrape");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    promtool_check_metrics(&text);
    let (content_type, om) = agent
        .scrape(Some("application/openmetrics-text;version=1.0.0"))
        .expect("scrape");
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    let missing = http()
        .get(format!("http://{}/", agent.target()))
        .call()
        .expect("GET /");
    assert_eq!(missing.status(), 404);

    agent.stop();
    drop(prometheus);
    eprintln!("metrics: the workload test took {:?}", began.elapsed());
}

fn promtool_check_metrics(text: &str) {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: install Debian's `prometheus` package (.ci/run does)"
    );
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).expect("feed promtool");
    drop(stdin);
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `expr` in a JSON document (the dashboard's panel targets, nested rows included).
fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", Value::String(expr)) => out.push(expr.clone()),
                    _ => exprs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| exprs(item, out)),
        _ => {}
    }
}

/// The Grafana dashboard parses, and Prometheus accepts every PromQL expression in it (with
/// Grafana's variables given values as Grafana would), on a Prometheus that scrapes a live
/// proctrace: the panels that show what exists now have data.
#[test]
fn the_grafana_dashboards_queries_are_accepted_by_prometheus() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/proctrace.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let dashboard: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    assert_eq!(dashboard["uid"], "proctrace");
    let panels = dashboard["panels"].as_array().expect("panels");
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for want in [
        "Zombies by container",
        "Zombie duration (heatmap)",
        "Forks, execs and exits per second",
        "Events lost",
    ] {
        assert!(titles.contains(&want), "no panel {want:?}: {titles:?}");
    }
    let heatmap = panels
        .iter()
        .find(|p| p["type"] == "heatmap")
        .expect("a heatmap panel");
    assert_eq!(heatmap["targets"][0]["format"], "heatmap");
    let mut ids: Vec<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(all.len() >= 10, "{all:?}");

    let agent = Agent::start();
    let prometheus = Prometheus::start(&agent.target());
    // A few scrapes, so that rate() over a minute has two samples to work on.
    prometheus.until(
        Duration::from_secs(20),
        "count_over_time(proctrace_up[1m])",
        |v| v.is_some_and(|n| n >= 3.0),
    );
    let mut with_data = 0;
    for expr in &all {
        let promql = expr
            .replace("$__rate_interval", "1m")
            .replace("$__interval", "15s")
            .replace("$instance", ".*");
        assert!(!promql.contains('$'), "an unknown Grafana variable: {expr}");
        let answer = prometheus.api(&promql);
        assert_eq!(answer["status"], "success", "{promql}: {answer}");
        if answer["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            with_data += 1;
        }
    }
    // Churn, processes, memory and up exist on any host; losses may well be 0 (no series).
    assert!(
        with_data >= 6,
        "only {with_data} of {} queries had data",
        all.len()
    );
    agent.stop();
}
