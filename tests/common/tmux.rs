//! udpchat at a real terminal: a private tmux server with one pane.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::process::{Memory, bound_addr_in};
use super::{TIMEOUT, skip_or_fail, unique_number};

/// udpchat on a real terminal: a private tmux server (its own socket, so tests
/// run in parallel and never touch a user's tmux) with one pane of fixed size.
///
/// The pane runs a small shell script that saves the terminal's mode
/// (`stty -g`), runs udpchat with stderr to a file, then records its exit
/// status and the mode again, so a test can check both after udpchat exits.
pub struct Tmux {
    socket: String,
    dir: std::path::PathBuf,
    /// The server's process while [`freeze`](Self::freeze) holds it stopped.
    #[cfg(unix)]
    frozen: std::cell::Cell<Option<nix::unistd::Pid>>,
}

/// Changes to how [`Tmux::start_with`] runs udpchat in its pane.
#[derive(Default)]
pub struct Pane<'a> {
    /// A shell command run first, in the pane (e.g. `stty -echo`).
    pub before: &'a str,
    /// udpchat's stderr is the terminal, as when a person runs it, not a
    /// file: [`Tmux::stderr`] and [`Tmux::bound_addr`] then know nothing.
    pub stderr_on_screen: bool,
    /// The pane's columns and rows, when not 100x30.
    pub size: Option<(usize, usize)>,
}

impl Tmux {
    /// Starts `udpchat -v ARGS` in a 100x30 pane with `env` set (and `NO_COLOR`,
    /// `RUST_LOG`, `UDPCHAT_BIND` unset otherwise). Returns `None` when tmux
    /// is not installed, after [`skip_or_fail`] has said so (in CI, where
    /// `.ci/run` installs it, its absence fails the test).
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Option<Tmux> {
        Tmux::start_with(args, env, &Pane::default())
    }

    /// Like [`start`](Self::start), with `pane`'s changes.
    pub fn start_with(args: &[&str], env: &[(&str, &str)], pane: &Pane) -> Option<Tmux> {
        let tmux = Tmux::new()?;
        let script = format!(
            "cd {dir}\n{setup}{before}\nstty -g > before\nsh -c 'echo $$ > pid; exec \"$@\"' sh {command}{stderr}\n\
             echo $? > status.tmp\nstty -g > after\nmv status.tmp status\n",
            dir = quote(tmux.dir.to_str().unwrap()),
            setup = setup(env),
            before = pane.before,
            command = udpchat_command(args),
            stderr = if pane.stderr_on_screen { "" } else { " 2> stderr" },
        );
        std::fs::write(tmux.dir.join("run.sh"), script).unwrap();
        let run = tmux.dir.join("run.sh");
        tmux.open_pane(&format!("sh {}", run.to_str().unwrap()), pane.size);
        Some(tmux)
    }

    /// Like [`start`](Self::start), but typed at an interactive bash with job
    /// control, as a person would run it: Ctrl-Z stops udpchat and the test
    /// can type `fg`. Call [`shell_exit_status`](Self::shell_exit_status), not
    /// `exit_status`, once udpchat has ended. `None` without bash (see
    /// [`skip_or_fail`]).
    pub fn start_in_shell(args: &[&str], env: &[(&str, &str)]) -> Option<Tmux> {
        if Command::new("bash").arg("--version").output().is_err() {
            skip_or_fail("bash is not installed, to run udpchat as a job");
            return None;
        }
        let tmux = Tmux::new()?;
        // No startup files, no history file, and a prompt easy to find.
        tmux.open_pane(
            &format!(
                "cd {dir} && env HISTFILE= PS1='$ ' bash --norc --noprofile -i",
                dir = quote(tmux.dir.to_str().unwrap()),
            ),
            None,
        );
        tmux.wait_for("the shell's prompt", |screen| screen.trim_end().ends_with('$'));
        // One line, so the shell reads no more until udpchat stops or ends.
        tmux.type_text(&format!(
            "{setup}stty -g > before; sh -c 'echo $$ > pid; exec \"$@\"' sh {command} 2> stderr",
            setup = setup(env).replace('\n', "; "),
            command = udpchat_command(args),
        ));
        tmux.press(&["Enter"]);
        Some(tmux)
    }

    /// After udpchat started by [`start_in_shell`](Self::start_in_shell) has
    /// ended: its exit status, and whether the terminal's mode is as before.
    pub fn shell_exit_status(&self) -> (i32, bool) {
        self.wait_for("the shell's prompt after udpchat", |screen| {
            screen.trim_end().ends_with('$')
        });
        self.type_text("echo $? > status.tmp; stty -g > after; mv status.tmp status");
        self.press(&["Enter"]);
        self.exit_status()
    }

    /// Whether the terminal is in raw mode now, as a line editor sets it:
    /// no line buffering (`-icanon`) and no echo (`-echo`).
    pub fn terminal_is_raw(&self) -> bool {
        let tty = self.run(&["display-message", "-p", "-t", "0", "#{pane_tty}"]);
        let output = Command::new("stty")
            .args(["-a", "-F", tty.trim_end()])
            .stdin(Stdio::null())
            .output()
            .expect("run stty");
        let modes = String::from_utf8_lossy(&output.stdout);
        let modes: Vec<&str> = modes.split_whitespace().collect();
        modes.contains(&"-icanon") && modes.contains(&"-echo")
    }

    /// A private tmux server's directory and settings, no pane yet; `None`
    /// where tmux is not installed (see [`start`](Self::start)).
    fn new() -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            skip_or_fail("tmux is not installed (apt-get install tmux)");
            return None;
        }
        let unique = format!("udpchat-test-{}-{}", std::process::id(), unique_number());
        let dir = std::env::temp_dir().join(&unique);
        std::fs::create_dir(&dir).unwrap();
        // A long history, so that a test can read back a burst of lines;
        // the pane stays on screen after the script ends.
        std::fs::write(
            dir.join("tmux.conf"),
            "set -g history-limit 100000\nset -g remain-on-exit on\n",
        )
        .unwrap();
        Some(Tmux {
            socket: unique,
            dir,
            #[cfg(unix)]
            frozen: std::cell::Cell::default(),
        })
    }

    /// Starts the server with one pane running `command`, `size` (columns,
    /// rows) or 100x30.
    fn open_pane(&self, command: &str, size: Option<(usize, usize)>) {
        let conf = self.dir.join("tmux.conf");
        let (columns, rows) = size.unwrap_or((100, 30));
        self.run(&[
            "-f",
            conf.to_str().unwrap(),
            "new-session",
            "-d",
            "-x",
            &columns.to_string(),
            "-y",
            &rows.to_string(),
            command,
        ]);
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Types `text` as it is, character by character.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "0", "-l", text]);
    }

    /// Presses keys by name: `Enter`, `Left`, `C-c`, `C-d`.
    pub fn press(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Pastes `text` into the pane as tmux's `paste-buffer` does: all of it
    /// in one write to the terminal, each `\n` sent as `\r` (the Enter key),
    /// inside bracketed-paste markers only when `bracketed` (and the program
    /// asked for them), as a terminal without bracketed paste would not.
    pub fn paste(&self, text: &str, bracketed: bool) {
        let name = format!("paste-{}", unique_number());
        let file = self.dir.join(&name);
        std::fs::write(&file, text).unwrap();
        self.run(&["load-buffer", "-b", &name, file.to_str().unwrap()]);
        let mut args = vec!["paste-buffer", "-d", "-b", &name, "-t", "0"];
        if bracketed {
            args.push("-p");
        }
        self.run(&args);
    }

    /// Resizes the window, as a person dragging its corner would (the
    /// program gets SIGWINCH).
    pub fn resize(&self, columns: &str, rows: &str) {
        self.run(&["resize-window", "-t", "0", "-x", columns, "-y", rows]);
    }

    /// The visible screen, one line per row, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"])
    }

    /// The screen with colours and attributes as SGR escape sequences.
    pub fn screen_with_attributes(&self) -> String {
        self.run(&["capture-pane", "-p", "-e", "-t", "0"])
    }

    /// Everything the pane shows and has scrolled away, oldest first.
    pub fn history(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0", "-S", "-", "-E", "-"])
    }

    /// Like [`history`](Self::history), with each row the terminal wrapped
    /// joined to the next: rows a program ended itself stay apart.
    pub fn history_joined(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-t", "0", "-S", "-", "-E", "-"])
    }

    /// The cursor's column and row on the screen.
    pub fn cursor(&self) -> (usize, usize) {
        let position = self.run(&["display-message", "-p", "-t", "0", "#{cursor_x} #{cursor_y}"]);
        let mut numbers = position.split_whitespace().map(|n| n.parse().unwrap());
        (numbers.next().unwrap(), numbers.next().unwrap())
    }

    /// The pane's columns and rows now.
    pub fn size(&self) -> (usize, usize) {
        let size = self.run(&["display-message", "-p", "-t", "0", "#{pane_width} #{pane_height}"]);
        let mut numbers = size.split_whitespace().map(|n| n.parse().unwrap());
        (numbers.next().unwrap(), numbers.next().unwrap())
    }

    /// The pane's title, which a terminal escape sequence (OSC 2) can set.
    pub fn title(&self) -> String {
        self.run(&["display-message", "-p", "-t", "0", "#{pane_title}"])
            .trim_end()
            .to_owned()
    }

    /// Waits until `ready` holds for the screen, and returns that screen;
    /// fails the test after [`TIMEOUT`], showing the screen.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        self.wait_with(what, || self.screen(), ready)
    }

    /// Like [`wait_for`](Self::wait_for), reading the screen with `capture`.
    pub fn wait_with(
        &self,
        what: &str,
        capture: impl Fn() -> String,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = capture();
            if ready(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!(
                    "no {what} on the terminal within {TIMEOUT:?}; screen:\n{screen}\nstderr:\n{}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address udpchat reports at `-v` once its socket is bound.
    pub fn bound_addr(&self) -> SocketAddr {
        let stderr = self.wait_file("stderr", |text| text.contains("bound "));
        bound_addr_in(stderr.lines().find(|line| line.contains("bound ")).unwrap())
    }

    /// udpchat's process id.
    #[cfg(unix)]
    pub fn pid(&self) -> nix::unistd::Pid {
        let pid = self.wait_file("pid", |text| text.ends_with('\n'));
        nix::unistd::Pid::from_raw(pid.trim().parse().unwrap())
    }

    /// udpchat's memory use now, from `/proc/PID/status` (Linux).
    #[cfg(target_os = "linux")]
    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("udpchat is still running");
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|line| line.starts_with(name)).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        Memory {
            rss_kib: field("VmRSS:"),
            peak_kib: field("VmHWM:"),
        }
    }

    /// Stops the terminal itself (the tmux server, with SIGSTOP): it reads
    /// nothing more from udpchat, as a terminal paused with Ctrl-S or a
    /// stalled remote link would, until [`thaw`](Self::thaw).
    #[cfg(unix)]
    pub fn freeze(&self) {
        let server = self.run(&["display-message", "-p", "#{pid}"]);
        let server = nix::unistd::Pid::from_raw(server.trim().parse().unwrap());
        nix::sys::signal::kill(server, nix::sys::signal::Signal::SIGSTOP).unwrap();
        self.frozen.set(Some(server));
    }

    /// Lets the terminal run again after [`freeze`](Self::freeze).
    #[cfg(unix)]
    pub fn thaw(&self) {
        if let Some(server) = self.frozen.take() {
            let _ = nix::sys::signal::kill(server, nix::sys::signal::Signal::SIGCONT);
        }
    }

    /// Waits for udpchat to exit; returns its exit status and whether the
    /// terminal's mode afterwards is the one it had before.
    pub fn exit_status(&self) -> (i32, bool) {
        let status = self.wait_file("status", |text| text.ends_with('\n'));
        let before = std::fs::read_to_string(self.dir.join("before")).unwrap();
        let after = std::fs::read_to_string(self.dir.join("after")).unwrap();
        (status.trim().parse().unwrap(), before == after)
    }

    /// What udpchat wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    fn wait_file(&self, name: &str, complete: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(name))
                && complete(&text)
            {
                return text;
            }
            if Instant::now() > deadline {
                panic!(
                    "no {name} within {TIMEOUT:?}; screen:\n{}\nstderr:\n{}",
                    self.screen(),
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // A stopped server would never answer kill-server.
        #[cfg(unix)]
        self.thaw();
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `s` quoted for the shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `udpchat -v ARGS`, quoted for the shell.
fn udpchat_command(args: &[&str]) -> String {
    let mut command = vec![quote(env!("CARGO_BIN_EXE_udpchat")), "-v".to_owned()];
    command.extend(args.iter().map(|arg| quote(arg)));
    command.join(" ")
}

/// Shell lines that unset the variables udpchat reads and export `env`.
fn setup(env: &[(&str, &str)]) -> String {
    let exports: String = env
        .iter()
        .map(|(name, value)| format!("export {name}={}\n", quote(value)))
        .collect();
    format!("unset NO_COLOR RUST_LOG UDPCHAT_BIND\n{exports}")
}
