//! Two people chat: the real binary, run twice as two processes, and the article's turn-taking peer.

#![cfg(feature = "cli")]

mod common;

use common::{Udpchat, loopback_socket, two_udpchats};

#[test]
fn two_processes_chat_both_ways_at_once() {
    let (mut a, mut b) = two_udpchats(&[]);
    a.send("hello from a\n");
    b.send("hello from b\n");
    assert_eq!(b.text_line(), "hello from a");
    assert_eq!(a.text_line(), "hello from b");
    // Neither waits for a reply before speaking again.
    a.send("one\ntwo\nthree\n");
    b.send("uno\n");
    assert_eq!(
        [b.text_line(), b.text_line(), b.text_line()],
        ["one", "two", "three"]
    );
    assert_eq!(a.text_line(), "uno");
    a.close_stdin();
    b.close_stdin();
    assert_eq!(a.exit_code().0, Some(0));
    assert_eq!(b.exit_code().0, Some(0));
}

/// The article's script, in Rust: read a line, send it, then block until one
/// datagram arrives (1024 bytes at most), and only then send the next.
fn turn_taking_peer(socket: &std::net::UdpSocket, to: std::net::SocketAddr, turns: &[&str]) -> Vec<String> {
    let mut heard = Vec::new();
    for line in turns {
        socket.send_to(line.as_bytes(), to).unwrap();
        let mut buf = [0; 1024];
        let (len, _) = socket.recv_from(&mut buf).expect("a reply within the timeout");
        heard.push(String::from_utf8_lossy(&buf[..len]).into_owned());
    }
    heard
}

#[test]
fn talks_to_a_peer_that_takes_turns_like_the_articles_script() {
    let article = loopback_socket();
    let mut chat = Udpchat::with_peer(&article, &[]);
    let to = chat.bound_addr();
    let article_side =
        std::thread::spawn(move || turn_taking_peer(&article, to, &["hi", "how are you?", "bye"]));
    for (heard, reply) in [("hi", "hello"), ("how are you?", "fine"), ("bye", "see you")] {
        assert_eq!(chat.text_line(), heard);
        chat.send(format!("{reply}\n"));
    }
    assert_eq!(article_side.join().unwrap(), ["hello", "fine", "see you"]);
    chat.close_stdin();
    assert_eq!(chat.exit_code().0, Some(0));
}

/// The article's own Python code, where python3 is installed.
#[cfg(unix)]
const ARTICLE_PY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
peer = ("127.0.0.1", int(sys.stdin.readline()))
s.settimeout(10)
for msg in ["hi from python", "second turn"]:
    s.sendto(msg.encode(), peer)
    print(s.recvfrom(1024)[0].decode(), flush=True)
"#;

#[test]
#[cfg(unix)] // Wine, where the Windows build runs, has no Python
fn talks_to_the_articles_python_script() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    use common::TIMEOUT;
    let Ok(mut python) = Command::new("python3")
        .args(["-c", ARTICLE_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        common::skip_or_fail("python3 is not installed");
        return;
    };
    let mut python_out = BufReader::new(python.stdout.take().unwrap());
    let mut line = String::new();
    python_out.read_line(&mut line).unwrap();
    let python_port: u16 = line.trim().parse().unwrap();
    let mut chat = Udpchat::start(&["-b", "127.0.0.1:0", &format!("127.0.0.1:{python_port}")]);
    let port = chat.bound_addr().port();
    writeln!(python.stdin.as_mut().unwrap(), "{port}").unwrap();
    for (heard, reply) in [("hi from python", "hello python"), ("second turn", "bye python")] {
        assert_eq!(chat.text_line(), heard);
        chat.send(format!("{reply}\n"));
        line.clear();
        python_out.read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), reply);
    }
    use wait_timeout::ChildExt;
    let status = python.wait_timeout(TIMEOUT).unwrap().expect("python exits");
    assert!(status.success());
    chat.close_stdin();
    assert_eq!(chat.exit_code().0, Some(0));
}

#[test]
fn show_sender_labels_each_line_with_its_source_address() {
    let peer = loopback_socket();
    let peer_addr = peer.local_addr().unwrap();
    let chat = Udpchat::with_peer(&peer, &["--show-sender"]);
    peer.send_to(b"hi", chat.bound_addr()).unwrap();
    assert_eq!(chat.text_line(), format!("<{peer_addr}> hi"));
}
