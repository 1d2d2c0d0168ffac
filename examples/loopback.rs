//! Two udpchat endpoints in one process chatting on loopback; prints the conversation.
//!
//! Run with `cargo run --release --example loopback`. Alice and Bob are two
//! chats, each with its own keyboard and screen; each line appears on the
//! other's screen as soon as it is sent, and nobody waits for a turn, so
//! either may say two lines in a row. The script types each line once the
//! one before it has arrived, so the transcript reads as a conversation, in
//! the same order on every run and any machine.

use std::io::{self, BufRead, BufReader, Write};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use udpchat::{Chat, Config};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let loopback = "127.0.0.1:0".parse()?;
    let endpoint = || {
        let mut config = Config::peers(vec![loopback], loopback);
        config.linger = Duration::from_millis(200);
        Chat::bind(config)
    };
    let (mut alice, mut bob) = (endpoint()?, endpoint()?);
    alice.set_peer(bob.local_addr())?;
    bob.set_peer(alice.local_addr())?;
    println!("alice on {}, bob on {}\n", alice.local_addr(), bob.local_addr());

    let (seen, arrived) = crossbeam_channel::unbounded();
    let mut keyboards = Vec::new();
    let chats = [("alice", alice), ("bob", bob)].map(|(name, chat)| {
        let (keyboard, typed) = io::pipe().expect("a pipe for the keyboard");
        let (screen, shown) = io::pipe().expect("a pipe for the screen");
        let seen = seen.clone();
        thread::spawn(move || show(name, screen, seen));
        keyboards.push((name, typed));
        (
            name,
            thread::spawn(move || chat.run(BufReader::new(keyboard), shown)),
        )
    });
    drop(seen);
    thread::spawn(move || type_the_dialogue(keyboards, arrived));
    for (name, chat) in chats {
        let summary = chat.join().expect("chat thread")?;
        println!(
            "{name}: {} lines sent, {} received",
            summary.lines_sent, summary.datagrams_received
        );
    }
    Ok(())
}

/// Types each line of the dialogue on its speaker's keyboard once the line
/// before it has arrived (`arrived`), then ends both inputs.
fn type_the_dialogue(mut keyboards: Vec<(&str, io::PipeWriter)>, arrived: Receiver<String>) {
    for (speaker, line) in DIALOGUE {
        let (_, keyboard) = keyboards
            .iter_mut()
            .find(|(name, _)| name == speaker)
            .expect("a speaker of the dialogue");
        println!("{speaker:>5} types: {line}");
        writeln!(keyboard, "{line}").expect("the chat reads its keyboard");
        if arrived.recv().is_err() {
            return; // a screen closed: the chat is over
        }
    }
}

/// Prints what arrives on one endpoint's screen, and passes each line on.
fn show(name: &str, screen: io::PipeReader, seen: Sender<String>) {
    for line in BufReader::new(screen).lines().map_while(Result::ok) {
        println!("{name:>5} sees:  {line}");
        let _ = seen.send(line);
    }
}
