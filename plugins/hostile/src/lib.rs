//! A plugin that attacks its sandbox, one command per attack. The runtime's tests run
//! each and check that only the call fails.

use std::hint::black_box;

use minstrel_sdk::{Command, CommandSpec, Invocation, Reply, http, kv, llm, log, player};

struct Hostile;

const ATTACKS: &[&str] = &[
    "spin",
    "bomb",
    "recurse",
    "panic",
    "read-file",
    "write-file",
    "env",
    "http",
    "flood",
    "kv",
    "llm",
    "player",
    "snoop",
    "ok",
];

/// Zero-initialised memory (`.bss`): no data segment writes it, so each instance sees
/// whatever its memory held when the instance began.
static mut LEFT_BEHIND: [u8; 4096] = [0; 4096];
/// What `snoop` writes there, and reports finding.
const SECRET: &[u8] = b"a secret a previous call left";

fn recurse(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    black_box(recurse(black_box(n - 1))).wrapping_add(n)
}

impl Command for Hostile {
    fn commands() -> Vec<CommandSpec> {
        ATTACKS
            .iter()
            .map(|name| CommandSpec {
                name: (*name).into(),
                description: format!("attack: {name}"),
                options: Vec::new(),
            })
            .collect()
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            "spin" => {
                let mut x = 0u64;
                loop {
                    x = black_box(x.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard = Vec::new();
                loop {
                    hoard.push(black_box(vec![7u8; 1 << 20]));
                }
            }
            "recurse" => Ok(Reply::text(recurse(u64::MAX).to_string())),
            "panic" => panic!("hostile plugin panicked on purpose"),
            "read-file" => {
                let path = invocation.text("path").unwrap_or("/etc/hostname");
                match std::fs::read(path) {
                    Ok(bytes) => Ok(Reply::text(format!("read {} bytes", bytes.len()))),
                    Err(e) => Err(format!("read failed: {e}")),
                }
            }
            "write-file" => {
                let path = invocation.text("path").ok_or("no path")?;
                match std::fs::write(path, b"overwritten by a plugin") {
                    Ok(()) => Ok(Reply::text("written")),
                    Err(e) => Err(format!("write failed: {e}")),
                }
            }
            "env" => Ok(Reply::text(format!("{}", std::env::vars().count()))),
            "http" => {
                let url = invocation.text("url").ok_or("no url")?;
                let response = http::get(url)?;
                Ok(Reply::text(
                    String::from_utf8_lossy(&response.body).into_owned(),
                ))
            }
            "flood" => loop {
                log::info("flood");
            },
            "kv" => {
                kv::set("k", b"v", None)?;
                Ok(Reply::text("stored"))
            }
            "llm" => {
                let request = llm::ChatRequest {
                    model: None,
                    messages: Vec::new(),
                    max_tokens: None,
                    temperature: None,
                };
                Ok(Reply::text(llm::chat(&request)?))
            }
            "player" => Ok(Reply::text(format!("{}", player::queue(1)?.len()))),
            // Reads what an earlier call may have left in memory, then leaves something.
            "snoop" => {
                // SAFETY: one call runs in an instance at a time; nothing else touches it.
                let left = unsafe { &mut *std::ptr::addr_of_mut!(LEFT_BEHIND) };
                let found = black_box(&left[..]).iter().filter(|b| **b != 0).count();
                left[..SECRET.len()].copy_from_slice(SECRET);
                // A megabyte of heap too, written all over.
                let heap = black_box(vec![0xA5u8; 1 << 20]);
                Ok(Reply::text(format!(
                    "{found} bytes left behind, {} written",
                    heap.len()
                )))
            }
            "ok" => Ok(Reply::text("still fine")),
            other => Err(format!("unknown attack {other}")),
        }
    }
}

minstrel_sdk::export_command!(Hostile, http = ["api.example.org"]);
