//! Benchmark: the real `udpchat` binary against a minimal UDP chat and TCP, on loopback and a lossy link; prints tables.
//!
//! Run with `cargo run --release --example bench` (about two minutes on 2 cores
//! once built), or add `-- --quick` for smaller runs while iterating, `--runs N`
//! for N bulk runs of each, `--bulk-only` to skip the rest, `--reliable-only`
//! for the `--reliable` rows alone (loopback bulk beside plain and secured,
//! then the lossy link). It builds the `udpchat` binary of the same profile
//! first; `UDPCHAT_BIN=path` runs another one.
//!
//! The reference is written below (`reference`): one `send_to` per input line,
//! one `recv` per datagram into a buffered stdout that is flushed when the
//! socket's queue is empty, and the same 4 MiB receive buffer udpchat asks for,
//! so the ratios measure udpchat's own overhead, not a different buffer. Both run
//! as separate processes in the same run, alternating, so a busy machine slows
//! both alike. A second table puts a secured chat (a generated secret, in
//! `UDPCHAT_SECRET`) beside a plain one, and times the start-up of one whose
//! secret is a passphrase (Argon2id). A third puts a reliable chat
//! (`--secret-file S --reliable`) beside the plain one. The last sends 100,000
//! lines across a link that drops 1 datagram or segment in 20 (two network
//! namespaces, a veth pair, an nftables rule; root, `ip`, `nft` and `socat`
//! needed, else skipped with the reason), with `udpchat --reliable` and with
//! TCP (`socat`), and once more each through a relay: udpchat's written
//! below (`relay`), which also duplicates and reorders, TCP's a `socat` that
//! only relays (a byte stream cannot be duplicated or reordered), so both
//! pay for the hop. Linux only: it reads `/proc`.

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the benchmark reads /proc, so it runs on Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fmt::Write as _;
    use std::fs::{self, File};
    use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    use crossbeam_channel::{Receiver, RecvTimeoutError};
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    /// Bytes of each generated line, without its newline: 200,000 of them make
    /// the 12.2 MB file of the issue.
    const LINE_LEN: usize = 60;
    /// The receive buffer both sides ask for: udpchat's default.
    const RECV_BUFFER: usize = udpchat::Config::DEFAULT_RECV_BUFFER;
    /// Bound on any single wait; reached only when something is broken.
    const TIMEOUT: Duration = Duration::from_secs(30);

    /// How much of each measure to run.
    struct Plan {
        bulk_lines: usize,
        bulk_runs: usize,
        latency_lines: usize,
        latency_gap: Duration,
        idle: Duration,
        repeats: usize,
        /// Lines sent across the lossy link, and rounds of it (udpchat, TCP,
        /// udpchat through the relay in each).
        lossy_lines: usize,
        lossy_runs: usize,
    }

    const FULL: Plan = Plan {
        bulk_lines: 200_000,
        bulk_runs: 5,
        latency_lines: 2_000,
        latency_gap: Duration::from_millis(4),
        idle: Duration::from_secs(10),
        repeats: 9,
        lossy_lines: 100_000,
        lossy_runs: 3,
    };

    const QUICK: Plan = Plan {
        bulk_lines: 200_000,
        bulk_runs: 2,
        latency_lines: 500,
        latency_gap: Duration::from_millis(4),
        idle: Duration::from_secs(2),
        repeats: 3,
        lossy_lines: 100_000,
        lossy_runs: 1,
    };

    pub fn main() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.first().map(String::as_str) == Some("--reference") {
            reference(
                &args[1],
                &args[2],
                args.get(3).map(String::as_str) == Some("--recv-only"),
            );
        }
        if args.first().map(String::as_str) == Some("--relay") {
            relay(&args[1], &args[2]);
        }
        let mut plan = if args.iter().any(|a| a == "--quick") {
            QUICK
        } else {
            FULL
        };
        // `--runs N`: bulk runs of each; `--bulk-only`: skip the other measures.
        if let Some(runs) = args
            .iter()
            .position(|a| a == "--runs")
            .and_then(|i| args.get(i + 1))
        {
            plan.bulk_runs = runs.parse().expect("--runs takes a number");
        }
        // `--reliable-only`: the bulk runs of plain, secured and reliable
        // chats, and the lossy link; nothing else, not even the reference.
        let reliable_only = args.iter().any(|a| a == "--reliable-only");
        let bulk_only = args.iter().any(|a| a == "--bulk-only") && !reliable_only;
        let plan = &plan;
        let programs = Programs::find();
        println!("{}", machine());
        println!("udpchat: {}", programs.udpchat.display());

        let scratch = Scratch::new();
        let file = scratch.0.join("lines.txt");
        write_lines(&file, plan.bulk_lines);

        let secret = udpchat::Secret::generate().unwrap().to_text().to_string();
        // The reliable chat reads the same secret from a file, as the issue runs it.
        let secret_file = scratch.0.join("secret");
        write_secret(&secret_file, &secret);
        let mut table = Table::new(["udpchat", "reference"]);
        let kinds = [Kind::Udpchat, Kind::Reference];

        // 1 and 4: bulk, and the receiver's peak RSS after it.
        let mut bulk: [Vec<Bulk>; 2] = Default::default();
        let mut secured_bulk = Vec::new();
        let mut reliable_bulk = Vec::new();
        for run in 0..plan.bulk_runs {
            for (i, kind) in kinds.iter().enumerate() {
                if reliable_only && *kind == Kind::Reference {
                    continue;
                }
                let result = run_bulk(*kind, &programs, &file, plan.bulk_lines);
                eprintln!("bulk run {} {:9}: {result:?}", run + 1, kind.name());
                bulk[i].push(result);
            }
            if !bulk_only {
                let result = run_bulk(Kind::Secured(&secret), &programs, &file, plan.bulk_lines);
                eprintln!("bulk run {} secured  : {result:?}", run + 1);
                secured_bulk.push(result);
                let result = run_bulk(Kind::Reliable(&secret_file), &programs, &file, plan.bulk_lines);
                eprintln!("bulk run {} reliable : {result:?}", run + 1);
                reliable_bulk.push(result);
            }
        }
        if reliable_only {
            println!(
                "\n{} bulk runs of {} lines; {} rounds of {} lines on the lossy link\n",
                plan.bulk_runs, plan.bulk_lines, plan.lossy_runs, plan.lossy_lines
            );
            print_reliable(&reliable_bulk, &bulk[0], &secured_bulk, plan.bulk_lines);
            print_lossy(&programs, plan, &scratch.0, &secret_file);
            return;
        }
        let n = plan.bulk_lines;
        let runs = plan.bulk_runs;
        table.counts(
            &format!("bulk: runs with all {n} lines delivered"),
            bulk.each(|runs| runs.iter().filter(|r| r.lost == 0).count() as f64),
            &format!("of {runs}"),
        );
        table.counts(
            "bulk: lines lost, worst run",
            bulk.each(|runs| runs.iter().map(|r| r.lost).max().unwrap_or(0) as f64),
            "",
        );
        table.counts(
            "bulk: lines reordered, worst run",
            bulk.each(|runs| runs.iter().map(|r| r.reordered).max().unwrap_or(0) as f64),
            "",
        );
        let reported = bulk[0].iter().filter_map(|r| r.reported_drops).max();
        if let Some(reported) = reported {
            table.note(&format!(
                "bulk: drops udpchat reported, worst run: {reported} (lost per run: {:?})",
                bulk[0].iter().map(|r| r.lost).collect::<Vec<_>>()
            ));
        }
        table.ratio(
            "bulk: lines/s (median)",
            bulk.each(|runs| median(runs.iter().map(|r| r.lines_per_s))),
            Unit::Rate,
        );
        table.ratio(
            "bulk: time to send all lines (median)",
            bulk.each(|runs| median(runs.iter().map(|r| r.send_time.as_secs_f64()))),
            Unit::Seconds,
        );
        table.ratio(
            "bulk: receiver's CPU time (median)",
            bulk.each(|runs| median(runs.iter().map(|r| r.receiver_cpu.as_secs_f64()))),
            Unit::Seconds,
        );
        table.ratio(
            "peak RSS of the receiver (median)",
            bulk.each(|runs| median(runs.iter().map(|r| r.peak_rss_kib as f64))),
            Unit::KiB,
        );

        if bulk_only {
            print!("\n{}", table.render());
            return;
        }

        // 2: latency.
        let latency = run_latency(&programs, plan, kinds);
        for (kind, l) in kinds.iter().zip(&latency) {
            let [p50, p99, max] = [0.5, 0.99, 1.0].map(|p| percentile(&l.one_way, p) * 1e6);
            eprintln!(
                "latency {:9}: p50 {p50:.0} µs, p99 {p99:.0} µs, max {max:.0} µs, lost {}",
                kind.name(),
                l.lost
            );
        }
        let gap = plan.latency_gap.as_millis();
        let lines = plan.latency_lines;
        for (label, pick) in [("p50", 0.50), ("p99", 0.99), ("max", 1.0)] {
            table.ratio(
                &format!("latency {label} ({lines} lines {gap} ms apart)"),
                latency.each(|l| percentile(&l.one_way, pick)),
                Unit::Seconds,
            );
        }
        table.counts("latency: lines lost", latency.each(|l| l.lost as f64), "");
        table.ratio(
            "peak RSS of the sender after latency",
            latency.each(|l| l.sender_peak_rss_kib as f64),
            Unit::KiB,
        );

        // 3: idle, all four endpoints at once (idle endpoints do not compete).
        let idle = run_idle(&programs, plan.idle);
        let secs = plan.idle.as_secs();
        table.ratio(
            &format!("idle {secs} s: CPU time, both endpoints"),
            idle.each(|i| i.cpu.as_secs_f64()),
            Unit::Seconds,
        );
        table.counts(
            &format!("idle {secs} s: wakeups, both endpoints"),
            idle.each(|i| i.wakeups as f64),
            "",
        );

        // 5: start-up and shutdown.
        let mut times: [[Vec<f64>; 3]; 2] = Default::default();
        for _ in 0..plan.repeats {
            for (i, kind) in kinds.iter().enumerate() {
                let (startup, eof, sigint) = run_lifecycle(*kind, &programs);
                times[i][0].push(startup.as_secs_f64());
                times[i][1].push(eof.as_secs_f64());
                times[i][2].push(sigint.as_secs_f64());
            }
        }
        let labels = [
            "start-up: spawn to bound socket",
            "end of input to exit",
            "SIGINT to exit",
        ];
        for (j, label) in labels.iter().enumerate() {
            table.ratio(
                &format!("{label} (median)"),
                times.each(|t| median(t[j].iter().copied())),
                Unit::Seconds,
            );
            table.ratio(
                &format!("{label} (max)"),
                times.each(|t| t[j].iter().copied().fold(0.0, f64::max)),
                Unit::Seconds,
            );
        }

        // 6: a secured chat beside a plain one, measured in the same run.
        let mut secured = Table::new(["secured", "plain"]);
        let paired = [&secured_bulk, &bulk[0]];
        secured.counts(
            &format!("bulk: runs with all {n} lines delivered"),
            paired.each(|runs| runs.iter().filter(|r| r.lost == 0).count() as f64),
            &format!("of {runs}"),
        );
        secured.ratio(
            "bulk: lines/s (median)",
            paired.each(|runs| median(runs.iter().map(|r| r.lines_per_s))),
            Unit::Rate,
        );
        secured.ratio(
            "bulk: receiver's CPU time (median)",
            paired.each(|runs| median(runs.iter().map(|r| r.receiver_cpu.as_secs_f64()))),
            Unit::Seconds,
        );
        let latency = run_latency(&programs, plan, [Kind::Secured(&secret), Kind::Udpchat]);
        for (label, pick) in [("p50", 0.50), ("p99", 0.99)] {
            let [ours, theirs] = latency.each(|l| percentile(&l.one_way, pick));
            secured.ratio(
                &format!("latency {label} ({lines} lines {gap} ms apart)"),
                [ours, theirs],
                Unit::Seconds,
            );
            secured.note(&format!(
                "latency {label}: secured {} plain",
                signed_micros(ours - theirs)
            ));
        }
        secured.counts("latency: lines lost", latency.each(|l| l.lost as f64), "");
        let mut startup: [Vec<f64>; 2] = Default::default();
        for _ in 0..plan.repeats {
            for (i, kind) in [Kind::Passphrase, Kind::Udpchat].into_iter().enumerate() {
                startup[i].push(run_lifecycle(kind, &programs).0.as_secs_f64());
            }
        }
        secured.ratio(
            "start-up with a passphrase (Argon2id), median",
            startup.each(|t| median(t.iter().copied())),
            Unit::Seconds,
        );

        println!(
            "\n{} bulk runs of {} lines, {} latency lines, idle {} s, {} start/stop repeats\n",
            plan.bulk_runs, plan.bulk_lines, plan.latency_lines, secs, plan.repeats
        );
        print!("{}", table.render());
        println!("\nSecured (a generated secret; start-up: a passphrase) beside plain:\n");
        print!("{}", secured.render());
        print_reliable(&reliable_bulk, &bulk[0], &secured_bulk, n);
        print_lossy(&programs, plan, &scratch.0, &secret_file);
    }

    /// The bench's files, removed at the end, whichever way it ends.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            let dir = std::env::temp_dir().join(format!("udpchat-bench-{}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A secret file only its owner may read: udpchat warns about any other.
    fn write_secret(path: &Path, secret: &str) {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .unwrap();
        writeln!(file, "{secret}").unwrap();
    }

    /// The reliable chat's table: beside the plain chat of the same runs,
    /// with the secured chat's (what sealing alone costs) in notes.
    fn print_reliable(reliable: &[Bulk], plain: &[Bulk], secured: &[Bulk], n: usize) {
        let mut table = Table::new(["reliable", "plain"]);
        let runs = plain.len();
        let paired = [reliable, plain];
        table.counts(
            &format!("bulk: runs with all {n} lines delivered"),
            paired.each(|runs| runs.iter().filter(|r| r.lost == 0).count() as f64),
            &format!("of {runs}"),
        );
        table.counts(
            "bulk: runs whose sender exited 0",
            paired.each(|runs| runs.iter().filter(|r| r.sender_ok).count() as f64),
            &format!("of {runs}"),
        );
        table.counts(
            "bulk: lines resent, worst run",
            paired.each(|runs| runs.iter().filter_map(|r| r.resent).max().unwrap_or(0) as f64),
            "",
        );
        table.counts(
            "bulk: lines reordered, worst run",
            paired.each(|runs| runs.iter().map(|r| r.reordered).max().unwrap_or(0) as f64),
            "",
        );
        let rate = |runs: &[Bulk]| median(runs.iter().map(|r| r.lines_per_s));
        let cpu = |runs: &[Bulk]| median(runs.iter().map(|r| r.receiver_cpu.as_secs_f64()));
        table.ratio("bulk: lines/s (median)", paired.each(|r| rate(r)), Unit::Rate);
        table.ratio(
            "bulk: time to send all lines (median)",
            paired.each(|runs| median(runs.iter().map(|r| r.send_time.as_secs_f64()))),
            Unit::Seconds,
        );
        table.ratio(
            "bulk: receiver's CPU time (median)",
            paired.each(|r| cpu(r)),
            Unit::Seconds,
        );
        table.ratio(
            "peak RSS of the receiver (median)",
            paired.each(|runs| median(runs.iter().map(|r| r.peak_rss_kib as f64))),
            Unit::KiB,
        );
        table.note(&format!(
            "reliable beside secured (the same runs): lines/s {:.2}x, receiver's CPU time {:.2}x; \
             reliable lines/s per run {:?}, plain {:?}",
            rate(reliable) / rate(secured),
            cpu(reliable) / cpu(secured),
            reliable.iter().map(|r| r.lines_per_s.round()).collect::<Vec<_>>(),
            plain.iter().map(|r| r.lines_per_s.round()).collect::<Vec<_>>(),
        ));
        println!(
            "\nReliable (--secret-file S --reliable; its time to send includes the acknowledgements) beside plain:\n"
        );
        print!("{}", table.render());
    }

    /// `12 µs more than`, `3 µs less than`: a difference in latency, in words.
    fn signed_micros(seconds: f64) -> String {
        let micros = seconds * 1e6;
        if micros >= 0.0 {
            format!("{micros:.0} µs more than")
        } else {
            format!("{:.0} µs less than", -micros)
        }
    }

    /// Applies a function to the udpchat and the reference entry of a pair.
    trait Each<T> {
        fn each(&self, f: impl Fn(&T) -> f64) -> [f64; 2];
    }

    impl<T> Each<T> for [T; 2] {
        fn each(&self, f: impl Fn(&T) -> f64) -> [f64; 2] {
            [f(&self[0]), f(&self[1])]
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Kind<'a> {
        Udpchat,
        Reference,
        /// udpchat with this generated secret.
        Secured(&'a str),
        /// udpchat with a passphrase: its key takes Argon2id.
        Passphrase,
        /// udpchat with this secret file, the sender with `--reliable` (the
        /// receiver needs no flag: every secured udpchat acknowledges).
        Reliable(&'a Path),
    }

    impl Kind<'_> {
        fn name(self) -> &'static str {
            match self {
                Kind::Udpchat => "udpchat",
                Kind::Reference => "reference",
                Kind::Secured(_) => "secured",
                Kind::Passphrase => "passphrase",
                Kind::Reliable(_) => "reliable",
            }
        }

        /// The command for an endpoint bound to `bind` that sends to `peer`.
        fn command(self, programs: &Programs, bind: &str, peer: &str, recv_only: bool) -> Command {
            let mut command = match self {
                Kind::Udpchat | Kind::Secured(_) | Kind::Passphrase | Kind::Reliable(_) => {
                    let mut command = Command::new(&programs.udpchat);
                    command.args(["-v", "-b", bind]);
                    command
                        .env_remove("RUST_LOG")
                        .env_remove("UDPCHAT_BIND")
                        .env_remove("UDPCHAT_SECRET");
                    match self {
                        Kind::Secured(secret) => command.env("UDPCHAT_SECRET", secret),
                        Kind::Passphrase => command.env("UDPCHAT_SECRET", "correct horse battery staple"),
                        Kind::Reliable(file) => {
                            command.arg("--secret-file").arg(file);
                            if !recv_only {
                                command.arg("--reliable");
                            }
                            &mut command
                        }
                        _ => &mut command,
                    };
                    command
                }
                Kind::Reference => {
                    let mut command = Command::new(&programs.bench);
                    command.args(["--reference", bind]);
                    command
                }
            };
            command.arg(peer);
            if recv_only {
                command.arg("--recv-only");
            }
            command
        }
    }

    struct Programs {
        udpchat: PathBuf,
        bench: PathBuf,
    }

    impl Programs {
        /// This executable (it is also the reference), and `udpchat` of the same
        /// profile, built now: Cargo does not build binaries for examples.
        fn find() -> Programs {
            let bench = std::env::current_exe().unwrap();
            let target = bench.parent().unwrap().parent().unwrap().to_owned();
            let udpchat = match std::env::var_os("UDPCHAT_BIN") {
                Some(path) => PathBuf::from(path),
                None => {
                    let release = target.file_name().is_some_and(|name| name == "release");
                    if !release {
                        eprintln!("warning: not a release build; run with --release for real figures");
                    }
                    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
                    let mut build = Command::new(cargo);
                    build.args(["build", "--quiet", "--bin", "udpchat", "--manifest-path"]);
                    build.arg(manifest);
                    if release {
                        build.arg("--release");
                    }
                    assert!(build.status().unwrap().success(), "cannot build udpchat");
                    target.join("udpchat")
                }
            };
            Programs { udpchat, bench }
        }
    }

    /// What this machine is, for docs/PERFORMANCE.md next to the figures.
    fn machine() -> String {
        let cpus = thread::available_parallelism().map_or(0, |n| n.get());
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']))
            })
            .unwrap_or("unknown CPU");
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let rmem_max = fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap_or_default();
        format!(
            "machine: {cpus} CPUs ({model}), Linux {}, net.core.rmem_max {}",
            kernel.trim(),
            rmem_max.trim()
        )
    }

    /// `count` lines of exactly [`LINE_LEN`] bytes, each starting with its number.
    fn write_lines(path: &Path, count: usize) {
        let mut out = BufWriter::new(File::create(path).unwrap());
        for seq in 0..count {
            out.write_all(&line(seq)).unwrap();
        }
        out.flush().unwrap();
    }

    fn line(seq: usize) -> Vec<u8> {
        let mut line = format!("{seq:010} ").into_bytes();
        line.resize(LINE_LEN, b'x');
        line.push(b'\n');
        line
    }

    /// A running endpoint: udpchat or the reference.
    struct Endpoint {
        child: Child,
        stdin: Option<ChildStdin>,
        addr: SocketAddr,
        /// From `spawn` to its report of a bound socket on stderr.
        startup: Duration,
        stderr: Arc<Mutex<String>>,
        /// Its stderr's lines as they come, disconnected at the end of stderr.
        stderr_lines: Receiver<String>,
        /// Batches of (line number, time read) from its stdout, when read.
        lines: Receiver<Vec<(usize, Instant)>>,
    }

    impl Endpoint {
        fn start(command: Command, stdin: Stdio, read_stdout: bool) -> Endpoint {
            Endpoint::start_when(command, stdin, read_stdout, |line| {
                let rest = line.split("bound ").nth(1)?;
                rest.split([',', '\n']).next()?.parse().ok()
            })
        }

        /// Starts `command` and waits for the stderr line from which `ready`
        /// takes the address it receives on.
        fn start_when(
            mut command: Command,
            stdin: Stdio,
            read_stdout: bool,
            ready: impl Fn(&str) -> Option<SocketAddr>,
        ) -> Endpoint {
            command.stdin(stdin).stderr(Stdio::piped());
            command.stdout(if read_stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            });
            let spawned = Instant::now();
            let mut child = command.spawn().unwrap();
            let (tx, stderr_lines) = crossbeam_channel::unbounded();
            let stderr = Arc::new(Mutex::new(String::new()));
            let all = stderr.clone();
            let mut pipe = BufReader::new(child.stderr.take().unwrap());
            thread::spawn(move || {
                let mut line = String::new();
                while pipe.read_line(&mut line).unwrap_or(0) > 0 {
                    all.lock().unwrap().push_str(&line);
                    let _ = tx.send(std::mem::take(&mut line));
                }
            });
            let deadline = Instant::now() + TIMEOUT;
            let addr = loop {
                let line = stderr_lines
                    .recv_deadline(deadline)
                    .unwrap_or_else(|_| panic!("no bound address; stderr: {}", stderr.lock().unwrap()));
                if let Some(addr) = ready(&line) {
                    break addr;
                }
            };
            let startup = spawned.elapsed();
            let lines = match child.stdout.take() {
                Some(stdout) => read_lines(stdout),
                None => crossbeam_channel::never(),
            };
            Endpoint {
                stdin: child.stdin.take(),
                child,
                addr,
                startup,
                stderr,
                stderr_lines,
                lines,
            }
        }

        /// All it wrote to stderr, once it has exited and the pipe is read to its end.
        fn stderr_to_end(&self) -> String {
            let deadline = Instant::now() + TIMEOUT;
            while self.stderr_lines.recv_deadline(deadline).is_ok() {}
            self.stderr.lock().unwrap().clone()
        }

        fn pid(&self) -> u32 {
            self.child.id()
        }

        /// Sends SIGINT and waits for the exit; returns how long that took.
        fn interrupt(&mut self) -> Duration {
            let sent = Instant::now();
            kill(Pid::from_raw(self.pid() as i32), Signal::SIGINT).unwrap();
            self.child.wait().unwrap();
            sent.elapsed()
        }

        /// Closes stdin and waits for the exit; returns how long that took.
        fn end_input(&mut self) -> Duration {
            let closed = Instant::now();
            drop(self.stdin.take());
            self.child.wait().unwrap();
            closed.elapsed()
        }
    }

    impl Drop for Endpoint {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Reads an endpoint's stdout on a thread: the number at the start of each
    /// line and when its chunk was read.
    fn read_lines(mut stdout: impl Read + Send + 'static) -> Receiver<Vec<(usize, Instant)>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let mut partial = Vec::new();
            loop {
                let n = match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let now = Instant::now();
                partial.extend_from_slice(&buf[..n]);
                let mut batch = Vec::new();
                let mut start = 0;
                while let Some(i) = partial[start..].iter().position(|&b| b == b'\n') {
                    let text = &partial[start..start + i];
                    if let Some(seq) = text
                        .get(..10)
                        .and_then(|d| std::str::from_utf8(d).ok()?.parse().ok())
                    {
                        batch.push((seq, now));
                    }
                    start += i + 1;
                }
                partial.drain(..start);
                if !batch.is_empty() && tx.send(batch).is_err() {
                    break;
                }
            }
        });
        rx
    }

    #[derive(Debug, Default)]
    struct Bulk {
        lost: usize,
        reordered: usize,
        lines_per_s: f64,
        send_time: Duration,
        peak_rss_kib: u64,
        receiver_cpu: Duration,
        reported_drops: Option<u64>,
        /// The sender's exit status was 0 (reliable: everything acknowledged).
        sender_ok: bool,
        /// Lines resent, from a reliable sender's `-v` summary.
        resent: Option<u64>,
    }

    /// One bulk run: a receiver, then a sender reading `file`, timed from the
    /// sender's spawn to the last line on the receiver's stdout.
    fn run_bulk(kind: Kind, programs: &Programs, file: &Path, count: usize) -> Bulk {
        let mut receiver = Endpoint::start(
            kind.command(programs, "127.0.0.1:0", "127.0.0.1:9", true),
            Stdio::null(),
            true,
        );
        let peer = receiver.addr.to_string();
        let started = Instant::now();
        let mut sender = Endpoint::start(
            kind.command(programs, "127.0.0.1:0", &peer, false),
            Stdio::from(File::open(file).unwrap()),
            false,
        );
        let mut seen = vec![false; count];
        let (mut delivered, mut reordered, mut highest) = (0, 0, None);
        let mut last = started;
        let mut send_time = None;
        let mut status = None;
        // All lines, or a second of silence after the sender is done.
        let mut quiet_since = None;
        while delivered < count {
            match receiver.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(batch) => {
                    quiet_since = None;
                    for (seq, at) in batch {
                        last = at;
                        if seq < count && !std::mem::replace(&mut seen[seq], true) {
                            delivered += 1;
                        }
                        if highest.is_some_and(|h| seq < h) {
                            reordered += 1;
                        }
                        highest = highest.max(Some(seq));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if send_time.is_none()
                        && let Some(exited) = sender.child.try_wait().unwrap()
                    {
                        send_time = Some(started.elapsed());
                        status = Some(exited);
                    }
                    if send_time.is_some() {
                        let since = *quiet_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_secs(1) {
                            break;
                        }
                    }
                    assert!(started.elapsed() < TIMEOUT, "bulk run did not finish");
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let send_time = send_time.unwrap_or_else(|| {
            status = Some(sender.child.wait().unwrap());
            started.elapsed()
        });
        let sender_stderr = sender.stderr_to_end();
        let peak_rss_kib = proc_status(receiver.pid(), "VmHWM");
        let receiver_cpu = usage(receiver.pid()).0;
        receiver.interrupt();
        let stderr = receiver.stderr.lock().unwrap().clone();
        Bulk {
            lost: count - delivered,
            reordered,
            lines_per_s: delivered as f64 / (last - started).as_secs_f64(),
            send_time,
            peak_rss_kib,
            receiver_cpu,
            reported_drops: reported_drops(&stderr),
            sender_ok: status.is_some_and(|s| s.success()),
            resent: summary_count(&sender_stderr, "resent"),
        }
    }

    /// The number before ` {word}` in udpchat's `-v` summary (`, 12 resent,`), if any.
    fn summary_count(stderr: &str, word: &str) -> Option<u64> {
        let marker = format!(" {word}");
        let line = stderr.lines().rev().find(|l| l.contains(&marker))?;
        let before = line.split(&marker).next()?;
        before.rsplit([' ', '(']).next()?.replace(',', "").parse().ok()
    }

    /// The kernel's drop count in udpchat's `-v` summary at exit, if any.
    fn reported_drops(stderr: &str) -> Option<u64> {
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.contains("dropped by the kernel"))?;
        let before = line.split(" dropped by the kernel").next()?;
        before.rsplit(' ').next()?.parse().ok()
    }

    struct Latency {
        one_way: Vec<f64>,
        lost: usize,
        sender_peak_rss_kib: u64,
    }

    /// Lines written to a sender's stdin one at a time, `gap` apart; each
    /// timed until the receiver's stdout shows it. udpchat and the reference
    /// run at the same time, their lines half a gap apart, so both see the
    /// same machine without their lines overlapping.
    fn run_latency(programs: &Programs, plan: &Plan, kinds: [Kind; 2]) -> [Latency; 2] {
        let pairs = kinds.map(|kind| {
            let receiver = Endpoint::start(
                kind.command(programs, "127.0.0.1:0", "127.0.0.1:9", true),
                Stdio::null(),
                true,
            );
            let sender = Endpoint::start(
                kind.command(programs, "127.0.0.1:0", &receiver.addr.to_string(), false),
                Stdio::piped(),
                false,
            );
            (receiver, sender)
        });
        let count = plan.latency_lines;
        let mut written = [Vec::with_capacity(count), Vec::with_capacity(count)];
        let start = Instant::now();
        for seq in 0..count {
            for (i, (_, sender)) in pairs.iter().enumerate() {
                let next = start + plan.latency_gap * seq as u32 + plan.latency_gap / 2 * i as u32;
                thread::sleep(next.saturating_duration_since(Instant::now()));
                let line = line(seq);
                written[i].push(Instant::now());
                sender.stdin.as_ref().unwrap().write_all(&line).unwrap();
            }
        }
        let mut results = pairs.map(|(receiver, mut sender)| {
            let mut read = vec![None; count];
            let mut got = 0;
            while got < count {
                let Ok(batch) = receiver.lines.recv_timeout(Duration::from_secs(1)) else {
                    break;
                };
                for (seq, at) in batch {
                    if seq < count && read[seq].replace(at).is_none() {
                        got += 1;
                    }
                }
            }
            let sender_peak_rss_kib = proc_status(sender.pid(), "VmHWM");
            sender.end_input();
            (read, sender_peak_rss_kib)
        });
        [0, 1].map(|i| {
            let (read, sender_peak_rss_kib) = std::mem::take(&mut results[i]);
            let mut one_way: Vec<f64> = written[i]
                .iter()
                .zip(&read)
                .filter_map(|(w, r)| Some(r.as_ref()?.saturating_duration_since(*w).as_secs_f64()))
                .collect();
            one_way.sort_by(f64::total_cmp);
            Latency {
                lost: count - one_way.len(),
                one_way,
                sender_peak_rss_kib,
            }
        })
    }

    #[derive(Debug)]
    struct Idle {
        cpu: Duration,
        wakeups: u64,
    }

    /// Two endpoints of each kind, each pair naming each other, stdin open and
    /// nothing to say; CPU time and voluntary context switches over `span`.
    fn run_idle(programs: &Programs, span: Duration) -> [Idle; 2] {
        let pairs = [Kind::Udpchat, Kind::Reference].map(|kind| {
            let port = UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let a_bind = format!("127.0.0.1:{port}");
            let b = Endpoint::start(
                kind.command(programs, "127.0.0.1:0", &a_bind, false),
                Stdio::piped(),
                true,
            );
            let a = Endpoint::start(
                kind.command(programs, &a_bind, &b.addr.to_string(), false),
                Stdio::piped(),
                true,
            );
            [a, b]
        });
        // Let the threads reach their blocking calls before counting.
        thread::sleep(Duration::from_millis(300));
        let total = |pair: &[Endpoint; 2]| {
            let (a, b) = (usage(pair[0].pid()), usage(pair[1].pid()));
            (a.0 + b.0, a.1 + b.1)
        };
        let before = [total(&pairs[0]), total(&pairs[1])];
        thread::sleep(span);
        let after = [total(&pairs[0]), total(&pairs[1])];
        [0, 1].map(|i| Idle {
            cpu: after[i].0 - before[i].0,
            wakeups: after[i].1 - before[i].1,
        })
    }

    /// Start-up time; then end of input to exit; then, in a second process, SIGINT to exit.
    fn run_lifecycle(kind: Kind, programs: &Programs) -> (Duration, Duration, Duration) {
        let start = || {
            Endpoint::start(
                kind.command(programs, "127.0.0.1:0", "127.0.0.1:9", false),
                Stdio::piped(),
                true,
            )
        };
        let mut first = start();
        let startup = first.startup;
        let eof = first.end_input();
        let mut second = start();
        let sigint = second.interrupt();
        (startup, eof, sigint)
    }

    /// Where the lossy link's endpoints are, in their namespaces.
    const SENDER_IP: &str = "10.200.0.1";
    const RECEIVER_IP: &str = "10.200.0.2";
    const UDP_PORT: u16 = 5000;
    const TCP_PORT: u16 = 5001;
    const RELAY_PORT: u16 = 5002;
    /// Where TCP's relay listens (`socat`, in the receiver's namespace).
    const TCP_RELAY_PORT: u16 = 5003;
    /// The link drops 1 datagram or segment in this many, at random.
    const DROP_ONE_IN: u32 = 20;
    /// Bound on one transfer across the lossy link (udpchat gives up after 30 s).
    const LOSSY_TIMEOUT: Duration = Duration::from_secs(120);

    /// Two network namespaces, the sender's and the receiver's, joined by a
    /// veth pair; on the receiver's side an nftables rule drops 1 in
    /// [`DROP_ONE_IN`] of the UDP datagrams and TCP segments to the
    /// receivers' ports, at random. Deleted when dropped.
    struct Link {
        names: [String; 2],
    }

    impl Link {
        /// The link, or why it cannot be made here.
        fn make() -> Result<Link, String> {
            if !nix::unistd::geteuid().is_root() {
                return Err("not root (network namespaces and nftables need it)".to_owned());
            }
            for (tool, arg, package) in [
                ("ip", "-V", "iproute2"),
                ("nft", "--version", "nftables"),
                ("socat", "-V", "socat, the TCP side"),
            ] {
                let found = Command::new(tool)
                    .arg(arg)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                if !found.is_ok_and(|s| s.success()) {
                    return Err(format!("no {tool} ({package}) to run"));
                }
            }
            let pid = std::process::id();
            let link = Link {
                names: ["sender", "receiver"].map(|side| format!("udpchat-bench-{pid}-{side}")),
            };
            let [a, b] = &link.names;
            for name in [a, b] {
                run(&["ip", "netns", "add", name], None)?;
            }
            run(
                &[
                    "ip", "-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns",
                    b,
                ],
                None,
            )?;
            for (ns, dev, ip) in [(a, "veth0", SENDER_IP), (b, "veth1", RECEIVER_IP)] {
                // One TCP segment per packet, as on a wire: with segmentation
                // offload a veth carries up to 64 KiB as one packet, and the
                // rule would drop 1 in 20 of those instead. The same on the
                // receiver's loopback, which a relay's traffic to the
                // receiver crosses (and the rule with it), at a wire's MTU.
                run(&["ip", "-n", ns, "link", "set", dev, "gso_max_segs", "1"], None)?;
                run(&["ip", "-n", ns, "link", "set", "lo", "gso_max_segs", "1"], None)?;
                run(&["ip", "-n", ns, "link", "set", "lo", "mtu", "1500"], None)?;
                run(
                    &["ip", "-n", ns, "addr", "add", &format!("{ip}/24"), "dev", dev],
                    None,
                )?;
                run(&["ip", "-n", ns, "link", "set", dev, "up"], None)?;
                run(&["ip", "-n", ns, "link", "set", "lo", "up"], None)?;
            }
            // A counter before each drop, so each run can say what it lost.
            let rules = format!(
                "table inet udpchat_bench {{
                    chain input {{
                        type filter hook input priority 0; policy accept;
                        udp dport {UDP_PORT} counter
                        udp dport {UDP_PORT} numgen random mod {DROP_ONE_IN} == 0 counter drop
                        tcp dport {TCP_PORT} counter
                        tcp dport {TCP_PORT} numgen random mod {DROP_ONE_IN} == 0 counter drop
                    }}
                }}"
            );
            run(&["ip", "netns", "exec", b, "nft", "-f", "-"], Some(&rules))?;
            Ok(link)
        }

        /// `command` run in the sender's (0) or the receiver's (1) namespace.
        fn within(&self, side: usize, command: &Command) -> Command {
            let mut wrapped = Command::new("ip");
            wrapped
                .args(["netns", "exec", &self.names[side]])
                .arg(command.get_program())
                .args(command.get_args());
            for (key, value) in command.get_envs() {
                match value {
                    Some(value) => wrapped.env(key, value),
                    None => wrapped.env_remove(key),
                };
            }
            wrapped
        }

        /// The rule's counters: packets to the UDP port, those dropped, to the
        /// TCP port, those dropped.
        fn counters(&self) -> [u64; 4] {
            let listed = run(
                &[
                    "ip",
                    "netns",
                    "exec",
                    &self.names[1],
                    "nft",
                    "list",
                    "chain",
                    "inet",
                    "udpchat_bench",
                    "input",
                ],
                None,
            )
            .unwrap();
            let mut counts = listed.lines().filter_map(|l| {
                let rest = l.split("counter packets ").nth(1)?;
                rest.split(' ').next()?.parse().ok()
            });
            [(); 4].map(|_| counts.next().unwrap_or(0))
        }
    }

    impl Drop for Link {
        fn drop(&mut self) {
            for name in &self.names {
                let _ = run(&["ip", "netns", "del", name], None);
            }
        }
    }

    /// Runs a command to its end; its stdout, or what went wrong.
    fn run(args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let mut child = Command::new(args[0])
            .args(&args[1..])
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("{}: {err}", args.join(" ")))?;
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "{}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// One transfer of a file across the lossy link.
    #[derive(Debug, Default)]
    struct Transfer {
        /// From the sender's spawn to the last new line on the receiver's stdout.
        time: Duration,
        /// Lines shown, the distinct ones among them, and those shown after a
        /// line numbered higher.
        shown: usize,
        distinct: usize,
        out_of_order: usize,
        /// From the sender's spawn to its exit; whether it exited 0.
        sender_exit: Duration,
        sender_ok: bool,
        /// Lines resent, from udpchat's `-v` summary.
        resent: Option<u64>,
        /// Packets to the receiver's port in this run, and those dropped.
        packets: u64,
        dropped: u64,
        /// What the relay did, when there was one.
        relayed: Option<String>,
    }

    impl Transfer {
        fn complete(&self, count: usize) -> bool {
            self.shown == count && self.distinct == count && self.out_of_order == 0
        }
    }

    /// Reads the receiver's lines until all came and the sender exited, or
    /// the sender exited and a second passed without a line, or the
    /// receiver's stdout ended; bounded by [`LOSSY_TIMEOUT`].
    fn await_transfer(receiver: &Endpoint, sender: &mut Child, started: Instant, count: usize) -> Transfer {
        let mut seen = vec![false; count];
        let mut t = Transfer::default();
        let mut highest = None;
        let mut exited: Option<(Duration, ExitStatus)> = None;
        let mut quiet_since = None;
        loop {
            if exited.is_none()
                && let Some(status) = sender.try_wait().unwrap()
            {
                exited = Some((started.elapsed(), status));
            }
            if t.distinct == count && exited.is_some() {
                break;
            }
            match receiver.lines.recv_timeout(Duration::from_millis(20)) {
                Ok(batch) => {
                    quiet_since = None;
                    for (seq, at) in batch {
                        t.shown += 1;
                        if seq < count && !std::mem::replace(&mut seen[seq], true) {
                            t.distinct += 1;
                            t.time = at - started;
                        }
                        if highest.is_some_and(|h| seq <= h) {
                            t.out_of_order += 1;
                        }
                        highest = highest.max(Some(seq));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if exited.is_some() {
                        let since = *quiet_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_secs(1) {
                            break;
                        }
                    }
                    if started.elapsed() > LOSSY_TIMEOUT {
                        eprintln!("transfer did not end in {LOSSY_TIMEOUT:?}: stopped");
                        break;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let (sender_exit, status) = exited.unwrap_or_else(|| {
            // SIGINT, not SIGKILL: udpchat still prints its summary.
            if started.elapsed() > LOSSY_TIMEOUT {
                let _ = kill(Pid::from_raw(sender.id() as i32), Signal::SIGINT);
            }
            let status = sender.wait().unwrap();
            (started.elapsed(), status)
        });
        t.sender_exit = sender_exit;
        t.sender_ok = status.success();
        t
    }

    /// `count` lines of `file` from `udpchat --reliable` (secured) in the
    /// sender's namespace to a secured udpchat in the receiver's, directly
    /// or through [`relay`] (in the receiver's namespace; both ends then
    /// chat with it and name it with `--reachable-at`, as sealed datagrams
    /// name where they were sent).
    fn lossy_udpchat(
        programs: &Programs,
        link: &Link,
        file: &Path,
        secret_file: &Path,
        count: usize,
        through_relay: bool,
    ) -> Transfer {
        let kind = Kind::Reliable(secret_file);
        let at = format!("{RECEIVER_IP}:{UDP_PORT}");
        let relay_at = format!("{RECEIVER_IP}:{RELAY_PORT}");
        let mut receive = kind.command(programs, &at, &format!("{SENDER_IP}:9"), true);
        let mut send = kind.command(programs, &format!("{SENDER_IP}:0"), &at, false);
        let relay = through_relay.then(|| {
            receive = kind.command(programs, &at, &relay_at, true);
            receive.args(["--reachable-at", &relay_at]);
            send = kind.command(programs, &format!("{SENDER_IP}:0"), &relay_at, false);
            send.args(["--reachable-at", &relay_at]);
            let mut relay = Command::new(&programs.bench);
            relay.args(["--relay", &relay_at, &at]);
            Endpoint::start(link.within(1, &relay), Stdio::null(), false)
        });
        let mut receiver = Endpoint::start(link.within(1, &receive), Stdio::null(), true);
        let before = link.counters();
        let started = Instant::now();
        let mut sender = Endpoint::start(
            link.within(0, &send),
            Stdio::from(File::open(file).unwrap()),
            false,
        );
        let mut t = await_transfer(&receiver, &mut sender.child, started, count);
        let after = link.counters();
        (t.packets, t.dropped) = (after[0] - before[0], after[1] - before[1]);
        let stderr = sender.stderr_to_end();
        t.resent = summary_count(&stderr, "resent");
        if !t.sender_ok {
            eprintln!("the udpchat sender failed:\n{stderr}");
        }
        if !t.complete(count) {
            receiver.interrupt();
            eprintln!("the udpchat receiver, incomplete:\n{}", receiver.stderr_to_end());
        }
        if let Some(mut relay) = relay {
            relay.interrupt();
            let told = relay.stderr_to_end();
            t.relayed = told
                .lines()
                .find_map(|l| l.strip_prefix("relay: ").map(str::to_owned));
        }
        t
    }

    /// The same file through TCP on the same link: `socat -u OPEN:FILE
    /// TCP:...` in the sender's namespace to `socat -u TCP-LISTEN:... STDOUT`,
    /// directly or through a relay as udpchat's is: `socat TCP-LISTEN:...
    /// TCP:...` in the receiver's namespace, whose traffic to the receiver
    /// crosses the drop rule. A byte stream cannot be duplicated or
    /// reordered by a relay, so this one only relays: its cost is the hop's.
    fn lossy_tcp(link: &Link, file: &Path, count: usize, through_relay: bool) -> Transfer {
        let at: SocketAddr = format!("{RECEIVER_IP}:{TCP_PORT}").parse().unwrap();
        let relay_at: SocketAddr = format!("{RECEIVER_IP}:{TCP_RELAY_PORT}").parse().unwrap();
        let mut listen = Command::new("socat");
        listen.args([
            "-d",
            "-d",
            "-u",
            &format!("TCP-LISTEN:{TCP_PORT},bind={RECEIVER_IP},reuseaddr"),
            "STDOUT",
        ]);
        let receiver = Endpoint::start_when(link.within(1, &listen), Stdio::null(), true, |line| {
            line.contains("listening on").then_some(at)
        });
        let relay = through_relay.then(|| {
            let mut relay = Command::new("socat");
            relay
                .args(["-d", "-d"])
                .arg(format!(
                    "TCP-LISTEN:{TCP_RELAY_PORT},bind={RECEIVER_IP},reuseaddr"
                ))
                .arg(format!("TCP:{at}"));
            Endpoint::start_when(link.within(1, &relay), Stdio::null(), false, |line| {
                line.contains("listening on").then_some(relay_at)
            })
        });
        let before = link.counters();
        let started = Instant::now();
        let mut send = Command::new("socat");
        send.arg("-u")
            .arg(format!("OPEN:{},rdonly", file.display()))
            .arg(format!("TCP:{}", if through_relay { relay_at } else { at }));
        let mut sender = link
            .within(0, &send)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut t = await_transfer(&receiver, &mut sender, started, count);
        let after = link.counters();
        (t.packets, t.dropped) = (after[2] - before[2], after[3] - before[3]);
        drop(relay);
        t
    }

    /// The lossy-link table: udpchat --reliable against TCP, in the same rounds.
    fn print_lossy(programs: &Programs, plan: &Plan, dir: &Path, secret_file: &Path) {
        let link = match Link::make() {
            Ok(link) => link,
            Err(why) => {
                println!("\nLossy link: skipped: {why}");
                return;
            }
        };
        let count = plan.lossy_lines;
        let file = dir.join("lossy.txt");
        write_lines(&file, count);
        let (mut direct, mut tcp, mut relayed, mut tcp_relayed) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 1..=plan.lossy_runs {
            let t = lossy_udpchat(programs, &link, &file, secret_file, count, false);
            eprintln!("lossy run {run} udpchat: {t:?}");
            direct.push(t);
            let t = lossy_tcp(&link, &file, count, false);
            eprintln!("lossy run {run} TCP    : {t:?}");
            tcp.push(t);
            let t = lossy_udpchat(programs, &link, &file, secret_file, count, true);
            eprintln!("lossy run {run} relay  : {t:?}");
            relayed.push(t);
            let t = lossy_tcp(&link, &file, count, true);
            eprintln!("lossy run {run} TCP relay: {t:?}");
            tcp_relayed.push(t);
        }
        let runs = plan.lossy_runs;
        let of = format!("of {runs}");
        let complete = |ts: &[Transfer]| ts.iter().filter(|t| t.complete(count)).count() as f64;
        let exited_0 = |ts: &[Transfer]| ts.iter().filter(|t| t.sender_ok).count() as f64;
        // Only a complete transfer has a time to compare.
        let time = |ts: &[Transfer]| {
            median(
                ts.iter()
                    .filter(|t| t.complete(count))
                    .map(|t| t.time.as_secs_f64()),
            )
        };
        let resent = |ts: &[Transfer]| median(ts.iter().filter_map(|t| t.resent).map(|r| r as f64));
        let packets = |ts: &[Transfer]| median(ts.iter().map(|t| t.packets as f64));
        let dropped = |ts: &[Transfer]| median(ts.iter().map(|t| t.dropped as f64));
        let mut table = Table::new(["udpchat", "TCP"]);
        table.counts(
            &format!("lossy: runs with all {count} lines, once each, in order"),
            [complete(&direct), complete(&tcp)],
            &of,
        );
        table.counts(
            "lossy: runs whose sender exited 0",
            [exited_0(&direct), exited_0(&tcp)],
            &of,
        );
        table.ratio(
            &format!("lossy: time for {count} lines (median)"),
            [time(&direct), time(&tcp)],
            Unit::Seconds,
        );
        table.counts(
            "lossy: packets to the receiver (median)",
            [packets(&direct), packets(&tcp)],
            "",
        );
        table.counts(
            "lossy: packets dropped by the rule (median)",
            [dropped(&direct), dropped(&tcp)],
            "",
        );
        table.counts("lossy: lines resent (median)", [resent(&direct), f64::NAN], "");
        table.counts(
            &format!("relay: runs with all {count} lines, once each, in order"),
            [complete(&relayed), complete(&tcp_relayed)],
            &of,
        );
        table.counts(
            "relay: runs whose sender exited 0",
            [exited_0(&relayed), exited_0(&tcp_relayed)],
            &of,
        );
        table.ratio(
            &format!("relay: time for {count} lines (median; TCP's relay only relays)"),
            [time(&relayed), time(&tcp_relayed)],
            Unit::Seconds,
        );
        table.ratio(
            "relay: udpchat's time against TCP's with no relay",
            [time(&relayed), time(&tcp)],
            Unit::Seconds,
        );
        table.counts("relay: lines resent (median)", [resent(&relayed), f64::NAN], "");
        let seconds = |ts: &[Transfer]| {
            ts.iter()
                .map(|t| {
                    let time = show(t.time.as_secs_f64(), Unit::Seconds);
                    match t.complete(count) {
                        true => time,
                        false => format!("{time} (incomplete: {} of {count})", t.distinct),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        table.note(&format!(
            "times per round: udpchat {}; TCP {}; udpchat through the relay {}; TCP through its relay {}",
            seconds(&direct),
            seconds(&tcp),
            seconds(&relayed),
            seconds(&tcp_relayed)
        ));
        table.note(&format!(
            "sender's exit after its spawn (median): udpchat {}, through the relay {}, TCP {}",
            show(
                median(direct.iter().map(|t| t.sender_exit.as_secs_f64())),
                Unit::Seconds
            ),
            show(
                median(relayed.iter().map(|t| t.sender_exit.as_secs_f64())),
                Unit::Seconds
            ),
            show(
                median(tcp.iter().map(|t| t.sender_exit.as_secs_f64())),
                Unit::Seconds
            ),
        ));
        for (round, t) in relayed.iter().enumerate() {
            if let Some(relay) = &t.relayed {
                table.note(&format!("relay, round {}: {relay}", round + 1));
            }
        }
        println!(
            "\nA link dropping 1 in {DROP_ONE_IN} (nftables, receiver's side; veth between two \
             namespaces): udpchat --reliable (secured) against TCP (socat), {runs} rounds:\n"
        );
        print!("{}", table.render());
    }

    /// What the relay did, for its report when it is interrupted.
    static RELAY_FORWARDED: AtomicU64 = AtomicU64::new(0);
    static RELAY_DUPLICATED: AtomicU64 = AtomicU64::new(0);
    static RELAY_REORDERED: AtomicU64 = AtomicU64::new(0);

    /// The relay of the lossy run: `bench --relay BIND TARGET`. What comes
    /// from TARGET goes to whoever last sent from elsewhere, the rest to
    /// TARGET; both ways, 1 datagram in 20 is sent twice and 1 in 20 is held
    /// back until 1 to 8 later ones have gone (or nothing came for 1 ms).
    /// On SIGINT it says what it did on stderr, and exits.
    fn relay(bind: &str, target: &str) -> ! {
        use socket2::{Domain, Protocol, Socket, Type};
        ctrlc::set_handler(|| {
            eprintln!(
                "relay: {} forwarded, {} duplicated, {} reordered",
                RELAY_FORWARDED.load(Ordering::Relaxed),
                RELAY_DUPLICATED.load(Ordering::Relaxed),
                RELAY_REORDERED.load(Ordering::Relaxed)
            );
            std::process::exit(0);
        })
        .unwrap();
        let bind: SocketAddr = bind.parse().unwrap();
        let target: SocketAddr = target.parse().unwrap();
        let socket = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP)).unwrap();
        socket.set_recv_buffer_size(RECV_BUFFER).unwrap();
        socket.set_send_buffer_size(RECV_BUFFER).unwrap();
        socket.bind(&bind.into()).unwrap();
        let socket = UdpSocket::from(socket);
        eprintln!("bound {}", socket.local_addr().unwrap());
        // xorshift64, seeded by the clock: the mangling need not repeat.
        let mut state = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        let mut below = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let send = |data: &[u8], to: SocketAddr| {
            // A peer not (yet) listening is the link's business, not the relay's.
            let _ = socket.send_to(data, to);
            RELAY_FORWARDED.fetch_add(1, Ordering::Relaxed);
        };
        let mut client = None;
        let mut sent = 0u64;
        let mut held: std::collections::VecDeque<(Vec<u8>, SocketAddr, u64)> = Default::default();
        let mut timed = false;
        let mut buf = vec![0u8; 65_536];
        loop {
            // Wait at most 1 ms while something is held, so nothing stays held.
            let holding = !held.is_empty();
            if timed != holding {
                timed = holding;
                let timeout = timed.then_some(Duration::from_millis(1));
                socket.set_read_timeout(timeout).unwrap();
            }
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let to = if from == target {
                        match client {
                            Some(client) => client,
                            None => continue,
                        }
                    } else {
                        client = Some(from);
                        target
                    };
                    let data = &buf[..n];
                    if below(20) == 0 {
                        held.push_back((data.to_vec(), to, sent + 1 + below(8)));
                        RELAY_REORDERED.fetch_add(1, Ordering::Relaxed);
                    } else {
                        send(data, to);
                        sent += 1;
                        if below(20) == 0 {
                            send(data, to);
                            RELAY_DUPLICATED.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    while let Some(i) = held.iter().position(|h| h.2 <= sent) {
                        let (data, to, _) = held.remove(i).unwrap();
                        send(&data, to);
                    }
                }
                Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    for (data, to, _) in held.drain(..) {
                        send(&data, to);
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(err) => panic!("relay: {err}"),
            }
        }
    }

    /// CPU time and voluntary context switches of every thread of `pid`.
    fn usage(pid: u32) -> (Duration, u64) {
        let mut cpu = Duration::ZERO;
        let mut wakeups = 0;
        for task in fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
            let task = task.unwrap().path();
            // schedstat: nanoseconds on the CPU, first field.
            if let Ok(stat) = fs::read_to_string(task.join("schedstat"))
                && let Some(ns) = stat.split(' ').next().and_then(|n| n.parse().ok())
            {
                cpu += Duration::from_nanos(ns);
            }
            let status = fs::read_to_string(task.join("status")).unwrap_or_default();
            wakeups += field(&status, "voluntary_ctxt_switches");
        }
        (cpu, wakeups)
    }

    fn proc_status(pid: u32, name: &str) -> u64 {
        field(&fs::read_to_string(format!("/proc/{pid}/status")).unwrap(), name)
    }

    /// The number in a `/proc/.../status` line `name:   123 kB`.
    fn field(status: &str, name: &str) -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    fn median(values: impl Iterator<Item = f64>) -> f64 {
        let mut values: Vec<f64> = values.collect();
        values.sort_by(f64::total_cmp);
        percentile(&values, 0.5)
    }

    /// The value at `pick` (0 to 1) of sorted `values`, nearest rank.
    fn percentile(values: &[f64], pick: f64) -> f64 {
        if values.is_empty() {
            return f64::NAN;
        }
        let rank = (pick * values.len() as f64).ceil() as usize;
        values[rank.clamp(1, values.len()) - 1]
    }

    /// The minimal reference chat: `bench --reference BIND PEER [--recv-only]`.
    fn reference(bind: &str, peer: &str, recv_only: bool) -> ! {
        use nix::sys::signal::{SigHandler, signal};
        use socket2::{Domain, Protocol, Socket, Type};
        // The bench may run where SIGINT is ignored (a background job of a
        // script), and children inherit that; Ctrl-C must end the reference.
        // SAFETY: the default disposition runs no handler code of ours.
        unsafe { signal(Signal::SIGINT, SigHandler::SigDfl) }.unwrap();
        let bind: SocketAddr = bind.parse().unwrap();
        let peer: SocketAddr = peer.parse().unwrap();
        let socket = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP)).unwrap();
        socket.set_recv_buffer_size(RECV_BUFFER).unwrap();
        socket.bind(&bind.into()).unwrap();
        let socket = UdpSocket::from(socket);
        eprintln!("bound {}", socket.local_addr().unwrap());
        let receiving = socket.try_clone().unwrap();
        thread::spawn(move || reference_receive(&receiving));
        if recv_only {
            loop {
                thread::park();
            }
        }
        let mut input = BufReader::with_capacity(64 * 1024, io::stdin());
        let mut line = Vec::new();
        while input.read_until(b'\n', &mut line).unwrap() > 0 {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            socket.send_to(&line, peer).unwrap();
            line.clear();
        }
        std::process::exit(0)
    }

    /// One `recv` per datagram into a buffered stdout, flushed when the queue is empty.
    fn reference_receive(socket: &UdpSocket) {
        use nix::sys::socket::{MsgFlags, recv};
        let mut out = BufWriter::with_capacity(64 * 1024, io::stdout());
        let mut buf = vec![0u8; 65_536];
        let mut pending = false;
        loop {
            let flags = if pending {
                MsgFlags::MSG_DONTWAIT
            } else {
                MsgFlags::empty()
            };
            match recv(socket.as_raw_fd(), &mut buf, flags) {
                Ok(n) => {
                    out.write_all(&buf[..n]).unwrap();
                    out.write_all(b"\n").unwrap();
                    pending = true;
                }
                Err(nix::errno::Errno::EAGAIN) => {
                    out.flush().unwrap();
                    pending = false;
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(err) => panic!("recv: {err}"),
            }
        }
    }

    #[derive(Clone, Copy)]
    enum Unit {
        Rate,
        Seconds,
        KiB,
    }

    /// The printed table: one row per measure, udpchat, reference, ratio.
    #[derive(Default)]
    struct Table {
        /// The names of the two columns compared.
        columns: [String; 2],
        rows: Vec<[String; 4]>,
        notes: Vec<String>,
    }

    impl Table {
        fn ratio(&mut self, label: &str, [ours, theirs]: [f64; 2], unit: Unit) {
            let ratio = if theirs > 0.0 && ours.is_finite() {
                format!("{:.2}x", ours / theirs)
            } else {
                "-".to_owned()
            };
            self.rows
                .push([label.to_owned(), show(ours, unit), show(theirs, unit), ratio]);
        }

        /// Counts; a count that does not apply to a column is NaN, shown `-`.
        fn counts(&mut self, label: &str, [ours, theirs]: [f64; 2], suffix: &str) {
            let show = |v: f64| {
                if v.is_finite() {
                    format!("{v} {suffix}").trim_end().to_owned()
                } else {
                    "-".to_owned()
                }
            };
            self.rows
                .push([label.to_owned(), show(ours), show(theirs), String::new()]);
        }

        fn note(&mut self, text: &str) {
            self.notes.push(text.to_owned());
        }

        fn new([ours, theirs]: [&str; 2]) -> Table {
            Table {
                columns: [ours.to_owned(), theirs.to_owned()],
                ..Table::default()
            }
        }

        fn render(&self) -> String {
            let [ours, theirs] = &self.columns;
            let header = ["measure", ours, theirs, "ratio"].map(String::from);
            let mut widths = [0; 4];
            for row in std::iter::once(&header).chain(&self.rows) {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let mut out = String::new();
            let mut line = |row: &[String; 4]| {
                let _ = writeln!(
                    out,
                    "| {:<w0$} | {:>w1$} | {:>w2$} | {:>w3$} |",
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2],
                    w3 = widths[3]
                );
            };
            line(&header);
            line(&widths.map(|w| "-".repeat(w)));
            for row in &self.rows {
                line(row);
            }
            for note in &self.notes {
                let _ = writeln!(out, "\n{note}");
            }
            out
        }
    }

    fn show(value: f64, unit: Unit) -> String {
        if !value.is_finite() {
            return "-".to_owned();
        }
        match unit {
            Unit::Rate => format!("{:.0}", value),
            Unit::KiB => format!("{:.0} KiB", value),
            Unit::Seconds if value >= 1.0 => format!("{value:.2} s"),
            Unit::Seconds if value >= 1e-3 => format!("{:.2} ms", value * 1e3),
            Unit::Seconds => format!("{:.0} µs", value * 1e6),
        }
    }
}
