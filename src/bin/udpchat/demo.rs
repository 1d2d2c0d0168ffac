//! `--demo`: two chats in this process talking on loopback, shown as a conversation, for a first look.
//!
//! Alice and Bob are two chats of the library, each on its own port of
//! 127.0.0.1, each with its own keyboard and screen (pipes). Each line
//! appears on the other's screen as soon as it is sent, and nobody waits for
//! a turn, so either may say two lines in a row. The script types each line
//! once the one before it has arrived, so the transcript reads the same on
//! every run and any machine.

use std::io::{self, BufRead, BufReader, Write};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use udpchat::{Chat, Config, Error};

/// Who says what, in order.
const DIALOGUE: &[(&str, &str)] = &[
    ("bob", "hey Alice"),
    ("alice", "hi Bob!"),
    ("alice", "did you get the notes?"),
    ("bob", "yes, reading them now"),
    ("bob", "looks good"),
    ("alice", "great, see you at 3"),
    ("bob", "see you"),
    ("alice", "bye"),
    ("bob", "bye"),
];

/// Runs the conversation, printing it on stdout, then what to try next.
pub fn run() -> Result<(), Error> {
    let loopback = "127.0.0.1:0".parse().expect("an address");
    let endpoint = || {
        let mut config = Config::peers(vec![loopback], loopback);
        config.linger = Duration::from_millis(200);
        Chat::bind(config)
    };
    let (mut alice, mut bob) = (endpoint()?, endpoint()?);
    alice.set_peer(bob.local_addr())?;
    bob.set_peer(alice.local_addr())?;
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "Two udpchats on this machine: alice on {}, bob on {}.\n",
        alice.local_addr(),
        bob.local_addr()
    );
    drop(out);

    let (seen, arrived) = crossbeam_channel::unbounded();
    let mut keyboards = Vec::new();
    let mut chats = Vec::new();
    for (name, chat) in [("alice", alice), ("bob", bob)] {
        let pipes = io::pipe().and_then(|keyboard| Ok((keyboard, io::pipe()?)));
        let ((typed, keyboard), (screen, shown)) = pipes.map_err(|source| Error::Io {
            op: "make a pipe",
            source,
        })?;
        let seen = seen.clone();
        thread::spawn(move || show(name, screen, seen));
        keyboards.push((name, keyboard));
        chats.push((
            name,
            thread::spawn(move || chat.run(BufReader::new(typed), shown)),
        ));
    }
    drop(seen);
    thread::spawn(move || type_the_dialogue(keyboards, arrived));
    let mut said = Vec::new();
    for (name, chat) in chats {
        let summary = chat.join().map_err(|_| Error::Panicked {
            thread: "demo chat",
            message: String::new(),
        })??;
        said.push(format!(
            "{name}: {} lines sent, {} received",
            summary.lines_sent, summary.datagrams_received
        ));
    }
    let _ = writeln!(
        io::stdout().lock(),
        "\n{}\n\nNow try it in two terminals, each naming the other's port:\n  \
         udpchat -b 127.0.0.1:2323 127.0.0.1:2324\n  \
         udpchat -b 127.0.0.1:2324 127.0.0.1:2323\n\
         (from the source tree: cargo run -- -b 127.0.0.1:2323 127.0.0.1:2324, and so on)",
        said.join("\n")
    );
    Ok(())
}

/// Types each line of the dialogue on its speaker's keyboard once the line
/// before it has arrived (`arrived`), then ends both inputs.
fn type_the_dialogue(mut keyboards: Vec<(&str, io::PipeWriter)>, arrived: Receiver<String>) {
    for (speaker, line) in DIALOGUE {
        let Some((_, keyboard)) = keyboards.iter_mut().find(|(name, _)| name == speaker) else {
            return;
        };
        let _ = writeln!(io::stdout().lock(), "{speaker:>5} types: {line}");
        if writeln!(keyboard, "{line}").is_err() || arrived.recv().is_err() {
            return; // a chat or a screen closed: the chat is over
        }
    }
}

/// Prints what arrives on one endpoint's screen, and passes each line on.
fn show(name: &str, screen: io::PipeReader, seen: Sender<String>) {
    for line in BufReader::new(screen).lines().map_while(Result::ok) {
        let _ = writeln!(io::stdout().lock(), "{name:>5} sees:  {line}");
        let _ = seen.send(line);
    }
}
