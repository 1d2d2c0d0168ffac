//! Two udpchat endpoints in one process chatting on loopback; prints the conversation.
//!
//! Run with `cargo run --release --example loopback`. Alice and Bob type at the
//! same time, from two threads; each line appears on the other's screen as soon
//! as it is sent, with nobody waiting for a turn.

use std::io::{self, BufRead, BufReader, Write};
use std::thread;
use std::time::Duration;

use udpchat::{Chat, Config};

const ALICE_TYPES: &[&str] = &["hi Bob!", "did you get the notes?", "great, see you at 3", "bye"];
const BOB_TYPES: &[&str] = &[
    "hey Alice",
    "yes, reading them now",
    "looks good",
    "see you",
    "bye",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let loopback = "127.0.0.1:0".parse()?;
    let endpoint = || {
        Chat::bind(Config {
            linger: Duration::from_millis(500),
            ..Config::peers(vec![loopback], loopback)
        })
    };
    let (mut alice, mut bob) = (endpoint()?, endpoint()?);
    alice.set_peer(bob.local_addr())?;
    bob.set_peer(alice.local_addr())?;
    println!("alice on {}, bob on {}\n", alice.local_addr(), bob.local_addr());

    let chats = [("alice", alice, ALICE_TYPES, 230), ("bob", bob, BOB_TYPES, 170)].map(
        |(name, chat, lines, pace)| {
            let (keyboard, typed) = io::pipe().expect("a pipe for the keyboard");
            let (screen, shown) = io::pipe().expect("a pipe for the screen");
            thread::spawn(move || type_slowly(name, typed, lines, Duration::from_millis(pace)));
            thread::spawn(move || show(name, screen));
            (
                name,
                thread::spawn(move || chat.run(BufReader::new(keyboard), shown)),
            )
        },
    );
    for (name, chat) in chats {
        let summary = chat.join().expect("chat thread")?;
        println!(
            "{name}: {} lines sent, {} received",
            summary.lines_sent, summary.datagrams_received
        );
    }
    Ok(())
}

/// Writes each line to the keyboard pipe, one every `pace`, and shows it as typed.
fn type_slowly(name: &str, mut keyboard: io::PipeWriter, lines: &[&str], pace: Duration) {
    for line in lines {
        thread::sleep(pace);
        println!("{name:>5} types: {line}");
        writeln!(keyboard, "{line}").expect("the chat reads its keyboard");
    }
}

/// Prints what arrives on one endpoint's screen.
fn show(name: &str, screen: io::PipeReader) {
    for line in BufReader::new(screen).lines().map_while(Result::ok) {
        println!("{name:>5} sees:  {line}");
    }
}
