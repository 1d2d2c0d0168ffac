//! The CLI explains itself: help, version, completions and the man page, all from one clap definition.

#![cfg(feature = "cli")]

mod common;

use std::process::Output;

use common::output_via;

/// Runs udpchat, which must succeed within the tests' time bound.
fn udpchat(args: &[&str]) -> Output {
    let output = output_via(env!("CARGO_BIN_EXE_udpchat"), args, &[]);
    assert!(
        output.status.success(),
        "udpchat {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout_of(args: &[&str]) -> String {
    String::from_utf8(udpchat(args).stdout).expect("UTF-8 output")
}

#[test]
fn short_help_is_short_and_long_help_has_examples_and_environment() {
    let short = stdout_of(&["-h"]);
    let long = stdout_of(&["--help"]);
    assert!(!short.contains("Examples:"), "{short}");
    assert!(short.lines().count() < long.lines().count() / 2);
    for needle in [
        "Examples:",
        "udpchat 192.168.1.6:2323",
        "--recv-only",
        "udpchat 192.168.1.6:2323 192.168.1.7:2323",
        "udpchat --broadcast 2323",
        "udpchat --group 239.255.23.23:2323 --interface eth0",
        "Environment:",
        "UDPCHAT_BIND",
    ] {
        assert!(long.contains(needle), "--help lacks {needle:?}:\n{long}");
    }
}

/// `udpchat FLAG` on a terminal `columns` wide (clap reads `COLUMNS` where
/// stdout is not a terminal, as here).
fn help_at(flag: &str, columns: usize) -> String {
    let columns = columns.to_string();
    let output = output_via(env!("CARGO_BIN_EXE_udpchat"), &[flag], &[("COLUMNS", &columns)]);
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

/// Help is filled to the terminal's width (at most 100) at word boundaries:
/// the same words at every width, no address cut in two (`192.16` /
/// `8.1.255`, as the terminal's own wrap of 100-column lines did at 80).
/// At 80 columns, `-h` fits without a line wider than the terminal, in
/// less than 40 rows (72 before).
#[test]
fn help_is_filled_to_the_terminals_width_without_breaking_words() {
    let words = |text: &str| text.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    for flag in ["-h", "--help"] {
        let widest = help_at(flag, 100);
        assert_eq!(help_at(flag, 250), widest, "{flag}: wider than 100 is 100");
        for columns in [40, 60, 80] {
            let help = help_at(flag, columns);
            assert_eq!(
                words(&help),
                words(&widest),
                "{flag} at {columns} columns:\n{help}"
            );
            if columns == 80 {
                let wide: Vec<&str> = help.lines().filter(|line| line.chars().count() > 80).collect();
                assert!(wide.is_empty(), "{flag}: lines over 80 columns: {wide:#?}");
            }
        }
    }
    let short = help_at("-h", 80);
    assert!(
        short.lines().count() < 40,
        "{} rows:\n{short}",
        short.lines().count()
    );
}

/// `--demo` (README's first command) shows two chats talking: each line
/// typed by one is seen by the other, in the order of the dialogue.
#[test]
fn the_demo_shows_two_chats_talking_in_order() {
    let out = stdout_of(&["--demo"]);
    let said: Vec<(&str, &str)> = out
        .lines()
        .filter_map(|line| {
            line.split_once(" types: ")
                .or_else(|| line.split_once(" sees:  "))
        })
        .map(|(who, what)| (who.trim(), what))
        .collect();
    assert_eq!(said.len(), 18, "{out}");
    for pair in said.chunks(2) {
        let [(speaker, line), (listener, heard)] = pair else {
            unreachable!()
        };
        assert_eq!(line, heard, "{out}");
        assert_ne!(speaker, listener, "{out}");
    }
    assert!(out.contains("alice: 4 lines sent, 5 received"), "{out}");
    assert!(out.contains("udpchat -b 127.0.0.1:2323 127.0.0.1:2324"), "{out}");
    let (code, stderr) = common::run(&["--demo", "127.0.0.1:9"]);
    assert_eq!(code, Some(2), "--demo takes no other argument: {stderr}");
}

#[test]
fn version_matches_the_crate() {
    assert_eq!(
        stdout_of(&["--version"]),
        format!("udpchat {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_generate_target_prints_something() {
    for what in ["bash", "zsh", "fish", "elvish", "powershell", "man"] {
        // roff escapes '-' as '\-'.
        let out = stdout_of(&["--generate", what]).replace("\\-", "-");
        assert!(
            out.len() > 500,
            "--generate {what} printed only {} bytes",
            out.len()
        );
        assert!(
            out.contains("recv-only"),
            "--generate {what} does not know --recv-only"
        );
    }
}

#[test]
#[cfg(unix)] // runs bash, which Windows does not have
fn the_bash_completion_script_parses() {
    let script = String::from_utf8(udpchat(&["--generate", "bash"]).stdout).unwrap();
    // -n: read the script, run nothing.
    let (code, stderr) = common::run_via("bash", &["-n", "-c", &script], &[]);
    assert_eq!(code, Some(0), "bash -n rejects the completion script: {stderr}");
}

/// Every long flag `--help` lists, e.g. `--recv-only`.
fn long_flags(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|line| line.split_whitespace().find(|word| word.starts_with("--")))
        .map(|flag| {
            flag.trim_end_matches([',', '.'])
                .split(['=', '<', '['])
                .next()
                .unwrap()
                .to_owned()
        })
        .filter(|flag| flag.len() > 2)
        .collect()
}

#[test]
fn the_man_page_names_every_long_flag_of_help() {
    let help = stdout_of(&["--help"]);
    let man = stdout_of(&["--generate", "man"]).replace("\\-", "-");
    let flags = long_flags(&help);
    assert!(
        flags.contains(&"--bind".to_owned()) && flags.len() >= 8,
        "{flags:?}"
    );
    for flag in flags {
        assert!(man.contains(&flag), "the man page lacks {flag}");
    }
}

/// The command lines of `--help`'s examples: the lines indented by four spaces.
fn example_commands(help: &str) -> Vec<&str> {
    let examples = help.split("Examples:\n").nth(1).expect("--help has examples");
    let examples = examples.split("\nEnvironment:").next().unwrap();
    examples
        .lines()
        .filter_map(|line| line.strip_prefix("    "))
        .collect()
}

/// The lines of `roff` set without filling (between `.nf` and `.fi`), its
/// escapes undone: as a reader sees and copies them.
fn unfilled_lines(roff: &str) -> Vec<String> {
    let mut unfilled = Vec::new();
    let mut filling = true;
    for line in roff.lines() {
        match line {
            ".nf" => filling = false,
            ".fi" => filling = true,
            _ if !filling => unfilled.push(
                line.replace(r"\-", "-")
                    .replace(r"\*(Aq", "'")
                    .replace(r"\&", "")
                    .replace(r"\\", r"\"),
            ),
            _ => {}
        }
    }
    unfilled
}

#[test]
fn the_man_page_shows_every_example_command_line_intact() {
    let help = stdout_of(&["--help"]);
    let man = stdout_of(&["--generate", "man"]);
    let commands = example_commands(&help);
    assert!(
        commands.contains(&"udpchat --generate man | man -l -") && commands.len() >= 10,
        "{commands:?}"
    );
    for section in [".SH EXAMPLES", ".SH ENVIRONMENT", ".SH \"EXIT STATUS\""] {
        assert!(man.contains(section), "the man page lacks {section}:\n{man}");
    }
    assert!(!man.contains(".SH EXTRA"), "{man}");
    // Each command a line of its own, never filled, broken or hyphenated.
    assert_eq!(unfilled_lines(&man), commands);
    for variable in [
        "UDPCHAT_PEER",
        "UDPCHAT_BIND",
        "UDPCHAT_SECRET",
        "RUST_LOG",
        "NO_COLOR",
        "TZ",
    ] {
        assert!(
            man.contains(&format!("\\fB{variable}\\fR")),
            "the man page lacks {variable}"
        );
    }
}

#[test]
fn values_of_generate_are_listed_in_help_and_completions() {
    let short = stdout_of(&["-h"])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(short.contains("[possible values: bash, zsh, fish, elvish, powershell, man, secret]"));
    assert!(stdout_of(&["--generate", "fish"]).contains("powershell"));
}

#[test]
fn the_peer_can_come_from_the_environment() {
    let peer = common::loopback_socket();
    let (code, stderr) = common::run_via(
        env!("CARGO_BIN_EXE_udpchat"),
        &["-v", "-b", "127.0.0.1:0"],
        &[("UDPCHAT_PEER", &peer.local_addr().unwrap().to_string())],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("chatting with {}", peer.local_addr().unwrap())),
        "{stderr}"
    );
}

#[test]
fn the_man_page_synopsis_shows_option_values_and_several_peers() {
    let man = stdout_of(&["--generate", "man"]).replace("\\-", "-");
    let synopsis = &man[man.find(".SH SYNOPSIS").unwrap()..man.find(".SH DESCRIPTION").unwrap()];
    for wanted in [
        "\\fIHOST:PORT\\fR...",
        "\\fB--broadcast\\fR \\fIPORT\\fR",
        "\\fB--bind\\fR \\fIADDR\\fR]",
        "\\fB--linger\\fR \\fIDURATION\\fR]",
        "\\fB--timestamps\\fR[=\\fISTYLE\\fR]]",
        "\\fB--allow\\fR \\fICIDR\\fR]...",
    ] {
        assert!(synopsis.contains(wanted), "no {wanted:?} in\n{synopsis}");
    }
}

#[test]
fn the_help_of_sanitize_does_not_speak_of_colour() {
    let help = stdout_of(&["--help"]);
    let sanitize = &help[help.find("--sanitize").unwrap()..help.find("--raw").unwrap()];
    assert!(!sanitize.to_lowercase().contains("colo"), "{sanitize}");
}
