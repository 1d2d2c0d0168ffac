//! The examples, environment and exit statuses, written once for `--help` and the man page.

use std::io::{self, Write};

use clap_mangen::roff::{Roff, bold, italic, roman};

/// One example: what it does, then the command lines that do it.
struct Example {
    /// A sentence ending in `:`, filled to the terminal's width.
    what: &'static str,
    /// Each line a command that works as it is, copied or typed; never
    /// broken, and so at most 75 characters: with its indent of 4, it fits
    /// 80 columns with a column to spare.
    commands: &'static [&'static str],
}

const EXAMPLES: &[Example] = &[
    Example {
        what: "Two hosts on a LAN that find each other by name (multicast DNS), whichever\n\
               starts first; and who is there:",
        commands: &[
            "A$ udpchat --name alice bob",
            "B$ udpchat --name bob alice",
            "udpchat --list",
        ],
    },
    Example {
        what: "Two hosts on a LAN, A (192.168.1.5) and B (192.168.1.6), each naming the other:",
        commands: &["A$ udpchat 192.168.1.6:2323", "B$ udpchat 192.168.1.5:2323"],
    },
    Example {
        what: "Send a file, one datagram per line, then print replies for 2 more seconds:",
        commands: &["udpchat --linger 2s 192.168.1.6:2323 < notes.txt"],
    },
    Example {
        what: "Send a big file to a slow host, 2,000 lines a second, with the counts at the end:",
        commands: &["udpchat -v --rate 2000 192.168.1.6:2323 < big.log"],
    },
    Example {
        what: "Log what a peer sends, with stdin closed:",
        commands: &["udpchat --recv-only 192.168.1.6:2323 >> chat.log < /dev/null"],
    },
    Example {
        what: "The same as JSON lines, with sender and time, for scripts:",
        commands: &["udpchat --recv-only --format json 192.168.1.6:2323 >> chat.jsonl"],
    },
    Example {
        what: "Label each line with the time and the sender:",
        commands: &["udpchat --timestamps --show-sender 192.168.1.6:2323"],
    },
    Example {
        what: "Also show what other hosts send to this port, each line labelled <ADDR>:",
        commands: &["udpchat --accept-any 192.168.1.6:2323"],
    },
    Example {
        what: "Three hosts: each line goes to both others, whose lines are labelled <ADDR>:",
        commands: &["udpchat 192.168.1.6:2323 192.168.1.7:2323"],
    },
    Example {
        what: "A room: everyone on the LAN who runs the same command, by broadcast or by \
               multicast on one interface (TTL 1: the lines stay on the LAN):",
        commands: &[
            "udpchat --broadcast 2323",
            "udpchat --group 239.255.23.23:2323 --interface eth0",
        ],
    },
    Example {
        what: "A secured chat: make a secret, give it to the other host (a USB stick, a \
               password manager), and each side reads it from its file:",
        commands: &[
            "udpchat --generate secret > ~/.udpchat-secret",
            "A$ udpchat --secret-file ~/.udpchat-secret 192.168.1.6:2323",
            "B$ udpchat --secret-file ~/.udpchat-secret 192.168.1.5:2323",
        ],
    },
    Example {
        what: "The same with a passphrase, and a secured room:",
        commands: &[
            "UDPCHAT_SECRET='correct horse battery staple' udpchat 192.168.1.6:2323",
            "udpchat --secret-file room.secret --group 239.255.23.23:2323",
        ],
    },
    Example {
        what: "Install bash completions (the directory may not exist yet), and read the manual:",
        commands: &[
            "dir=~/.local/share/bash-completion/completions; mkdir -p $dir",
            "udpchat --generate bash > $dir/udpchat",
            "udpchat --generate man | man -l -",
        ],
    },
];

/// The environment variables udpchat reads, and what for.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "UDPCHAT_PEER",
        "the peer (HOST:PORT or NAME), when none is given (not used in a room)",
    ),
    (
        "UDPCHAT_BIND",
        "the local address, when --bind is not given (not used in a room)",
    ),
    (
        "UDPCHAT_SECRET",
        "the secret or passphrase of a secured chat, when --secret-file is not given",
    ),
    (
        "RUST_LOG",
        "log filter (env_logger syntax), overriding -v/-q, e.g. RUST_LOG=debug",
    ),
    ("NO_COLOR", "when set and not empty, --color=auto means no colour"),
    ("TZ", "the time zone of --timestamps (else /etc/localtime)"),
];

/// Shown by `--help` (not `-h`) after the options, its prose filled to
/// `width` columns with each paragraph's indent kept, so clap, which wraps
/// at the same width, has nothing left to break. Commands are never broken.
pub fn long_help_footer(width: usize) -> String {
    let mut help = String::from("Examples:\n");
    for (i, example) in EXAMPLES.iter().enumerate() {
        if i > 0 {
            help.push('\n');
        }
        fill(&mut help, "  ", example.what, "  ", width);
        for command in example.commands {
            help.push_str(&format!("    {command}\n"));
        }
    }
    help.push_str("\nEnvironment:\n");
    for (name, what) in ENVIRONMENT {
        fill(&mut help, &format!("  {name:<15} "), what, &" ".repeat(18), width);
    }
    help.push_str("\nExit status:\n");
    for (status, when) in crate::exit::TABLE {
        fill(&mut help, &format!("  {status:<3} "), when, &" ".repeat(6), width);
    }
    help.truncate(help.trim_end().len());
    help
}

/// Appends `text` to `out` filled to `width` columns: words are never
/// broken, the first line starts with `first`, the others with `indent`.
/// A word longer than a line has a line of its own.
fn fill(out: &mut String, first: &str, text: &str, indent: &str, width: usize) {
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// Writes the man page: clap_mangen's sections, with ours in place of the
/// one it makes of `--help`'s footer ("EXTRA", filled and hyphenated, which
/// breaks command lines). Sections in the order of man-pages(7).
pub fn write_man_page(command: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    synopsis(&command).to_writer(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man_sections().to_writer(out)?;
    man.render_version_section(out)
}

/// The SYNOPSIS: each form of the command line, as `--help`'s usage and
/// README give them, then every option with its value. (clap_mangen's own
/// lists options without their values, and `HOST:PORT` without its `...`.)
fn synopsis(command: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]);
    let forms: [&[_]; 4] = [
        &[italic("HOST:PORT"), roman("...")],
        &[
            roman("["),
            bold("--name"),
            roman(" "),
            italic("NAME"),
            roman("] "),
            italic("NAME"),
            roman("..."),
        ],
        &[bold("--broadcast"), roman(" "), italic("PORT")],
        &[bold("--group"), roman(" "), italic("GROUP:PORT")],
    ];
    for form in forms {
        let mut line = vec![bold("udpchat"), roman(" ["), italic("OPTIONS"), roman("] ")];
        line.extend(form.iter().cloned());
        roff.text(line).control("br", []);
    }
    roff.text([
        bold("udpchat"),
        roman(" "),
        bold("--list"),
        roman(" [--format json]"),
    ])
    .control("br", []);
    // --generate takes no other option.
    roff.text([
        bold("udpchat"),
        roman(" "),
        bold("--generate"),
        roman(" "),
        italic("WHAT"),
    ]);
    roff.control("PP", []);
    roff.text([roman("where "), italic("OPTIONS"), roman(" are:")]);
    roff.control("RS", ["4"]);
    // Built, clap has filled in how many values each option takes.
    let mut command = command.clone();
    command.build();
    let mut options = Vec::new();
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if arg.is_hide_set() || matches!(long, "generate" | "broadcast" | "group") {
            continue;
        }
        if !options.is_empty() {
            options.push(roman(" "));
        }
        options.push(roman("["));
        if let Some(short) = arg.get_short() {
            options.push(bold(format!("-{short}")));
            options.push(roman("|"));
        }
        options.push(bold(format!("--{long}")));
        let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
        if let (true, Some(names)) = (takes_value, arg.get_value_names()) {
            let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
            let name = names
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            options.push(roman(if optional { "[=" } else { " " }));
            options.push(italic(name));
            if optional {
                options.push(roman("]"));
            }
        }
        options.push(roman("]"));
        if matches!(arg.get_action(), clap::ArgAction::Count | clap::ArgAction::Append) {
            options.push(roman("..."));
        }
    }
    roff.text(options);
    roff.control("RE", []);
    roff
}

/// EXIT STATUS, ENVIRONMENT and EXAMPLES in roff. Command lines are set
/// without filling (`.nf`), so they appear as they are, never broken,
/// hyphenated or stretched; roff's escapes (`\-` for `-`) keep them typeable.
fn man_sections() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (status, when) in crate::exit::TABLE {
        roff.control("TP", [])
            .text([bold(status.to_string())])
            .text([roman(*when)]);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, what) in ENVIRONMENT {
        roff.control("TP", []).text([bold(*name)]).text([roman(*what)]);
    }
    roff.control("SH", ["EXAMPLES"]);
    for (i, example) in EXAMPLES.iter().enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        // Prose is filled as usual: the line breaks are --help's.
        roff.text([roman(example.what.replace('\n', " "))]);
        roff.control("RS", ["4"]).control("nf", []);
        for command in example.commands {
            roff.text([roman(*command)]);
        }
        roff.control("fi", []).control("RE", []);
    }
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest example command (see [`Example::commands`]).
    const COMMAND_WIDTH: usize = 75;

    #[test]
    fn every_example_command_fits_80_columns_unbroken() {
        for command in EXAMPLES.iter().flat_map(|example| example.commands) {
            assert!(
                command.len() <= COMMAND_WIDTH,
                "{} columns: {command}",
                command.len()
            );
        }
    }

    #[test]
    fn the_footer_is_filled_to_the_width_without_breaking_a_word() {
        let words = |text: &str| text.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let widest = long_help_footer(100);
        for width in [40, 60, 80, 100] {
            let footer = long_help_footer(width);
            assert_eq!(words(&footer), words(&widest), "at {width} columns");
            for line in footer.lines() {
                let command = EXAMPLES
                    .iter()
                    .flat_map(|example| example.commands)
                    .any(|command| line.trim_start() == *command);
                assert!(command || line.len() <= width, "{width} columns: {line}");
            }
        }
    }
}
