//! A bot sharded over processes: the local server routes each guild's events to the
//! shard Discord would (`(guild_id >> 22) % count`) and closes a bad IDENTIFY as Discord
//! does; three `minstrel run` processes with two shards each share one database and one
//! data folder, each serving exactly its own guilds, downloading a song once for all of
//! them, and a killed process resuming exactly its own queues when it restarts.
//!
//! The store is SQLite unless `STORE_BACKEND=postgres` (see `common/database.rs`), as
//! `scripts/test.sh` runs this file a second time.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;

use futures::{SinkExt, StreamExt};
use minstrel_local::discord::payloads::{self, ALICE};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_local::http::{LocalHttp, Route};
use minstrel_tests::bot::{BotProcess, WAIT, caught_up_in, run_command};
use minstrel_tests::built::component;
use minstrel_tests::voice::{run, sine_ogg};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON frame, or the close code.
async fn next(socket: &mut Socket) -> Result<Value, u16> {
    let frame = tokio::time::timeout(WAIT, socket.next())
        .await
        .expect("the gateway answers")
        .expect("the connection is open")
        .expect("a frame");
    match frame {
        Message::Text(text) => Ok(serde_json::from_str(&text).unwrap()),
        Message::Close(close) => Err(close.map_or(0, |c| c.code.into())),
        other => panic!("unexpected frame {other:?}"),
    }
}

/// A gateway connection that sent IDENTIFY with `shard` (None: no shard field).
async fn identify(server: &LocalDiscord, shard: Option<[u64; 2]>) -> Socket {
    let url = server.world().gateway_url();
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = next(&mut socket).await.unwrap();
    assert_eq!(hello["op"], 10);
    let mut d = json!({"token": "t", "intents": 0, "properties": {}});
    if let Some(shard) = shard {
        d["shard"] = json!(shard);
    }
    let frame = json!({"op": 2, "d": d}).to_string();
    socket.send(Message::Text(frame.into())).await.unwrap();
    socket
}

/// The guild ids of the dispatches `t` among `frames`.
fn guilds_of(frames: &[Value], t: &str) -> Vec<u64> {
    frames
        .iter()
        .filter(|f| f["t"] == t)
        .map(|f| {
            let id = if t == "GUILD_CREATE" {
                &f["d"]["id"]
            } else {
                &f["d"]["guild_id"]
            };
            id.as_str().unwrap().parse().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn the_local_gateway_shards_like_discord() {
    let server = LocalDiscord::start().await.unwrap();
    let world = server.world();
    let added = world.add_guilds(11);
    let all = world.guilds();
    assert_eq!(all.len(), 12);
    let on = |shard: u64| -> Vec<u64> {
        let mut g: Vec<u64> = all
            .iter()
            .copied()
            .filter(|g| (g >> 22) % 3 == shard)
            .collect();
        g.sort();
        g
    };

    // Shard 1 of 3: READY names its guilds, one GUILD_CREATE each, nothing else's.
    let mut socket = identify(&server, Some([1, 3])).await;
    let ready = next(&mut socket).await.unwrap();
    assert_eq!(ready["t"], "READY");
    assert_eq!(ready["d"]["shard"], json!([1, 3]));
    let mut named: Vec<u64> = ready["d"]["guilds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().parse().unwrap())
        .collect();
    named.sort();
    assert_eq!(named, on(1));
    let mut creates = Vec::new();
    for _ in 0..named.len() {
        creates.push(next(&mut socket).await.unwrap());
    }
    let mut created = guilds_of(&creates, "GUILD_CREATE");
    created.sort();
    assert_eq!(created, on(1));

    // A message in a guild of each shard: only shard 1's arrives here.
    for shard in [0, 2, 1] {
        let guild = on(shard)[0];
        world.send_message_in(payloads::channels(guild).general, ALICE, "hi", 1);
    }
    let message = next(&mut socket).await.unwrap();
    assert_eq!(guilds_of(&[message], "MESSAGE_CREATE"), vec![on(1)[0]]);

    // An invalid shard is closed with 4010.
    let mut socket = identify(&server, Some([3, 3])).await;
    assert_eq!(next(&mut socket).await, Err(4010));

    // Past the guilds a shard may hold, sharding is required: 4011.
    world.set_max_guilds_per_shard(5);
    let mut socket = identify(&server, None).await;
    assert_eq!(next(&mut socket).await, Err(4011));
    let mut socket = identify(&server, Some([0, 3])).await;
    assert_eq!(next(&mut socket).await.unwrap()["t"], "READY");

    // GET /gateway/bot: a shard per 1,000 guilds by default, or what the test sets.
    let get = || async {
        reqwest::get(format!("{}/api/v10/gateway/bot", server.base_url()))
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str::<Value>(&t).unwrap())
            .unwrap()
    };
    let gateway = get().await;
    assert_eq!(gateway["shards"], 1);
    assert_eq!(gateway["session_start_limit"]["max_concurrency"], 1);
    // Two sessions started; the refused IDENTIFYs started none.
    assert_eq!(gateway["session_start_limit"]["remaining"], 1000 - 2);
    world.set_recommended_shards(4, 2);
    let gateway = get().await;
    assert_eq!(gateway["shards"], 4);
    assert_eq!(gateway["session_start_limit"]["max_concurrency"], 2);
    // An added guild's channels are known to REST.
    let channel = payloads::channels(added[3]).music;
    let got: Value = reqwest::get(format!("{}/api/v10/channels/{channel}", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(got["guild_id"], added[3].to_string());
    assert_eq!(got["type"], 2);
}

/// Shards per process, and processes.
const SHARDS_EACH: u64 = 2;
const PROCESSES: u64 = 3;
const SHARD_COUNT: u64 = SHARDS_EACH * PROCESSES;

/// The token of the process running shards from `first`: the server records the token
/// of every REST call, so a reply says which process sent it.
fn token(first: u64) -> String {
    format!("shards-{first}")
}

/// The process (by its first shard) that owns `guild`.
fn owner(guild: u64) -> u64 {
    (guild >> 22) % SHARD_COUNT / SHARDS_EACH * SHARDS_EACH
}

/// `minstrel run --shards A-B --shard-count 6` on the shared data folder, with the
/// `http` source granted `remote`, its admin listener on a free port.
async fn shard_process(
    server: &LocalDiscord,
    dir: &Path,
    remote: &LocalHttp,
    first: u64,
) -> BotProcess {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(component("http"), plugins.join("http.wasm")).unwrap();
    let trust = minstrel_local::discord::voice::trust_bundle().unwrap();
    let mut cmd = run_command(server, &dir.join("data"), &plugins, &token(first));
    cmd.arg("--shards")
        .arg(format!("{first}-{}", first + SHARDS_EACH - 1))
        .arg("--shard-count")
        .arg(SHARD_COUNT.to_string())
        .env("SSL_CERT_FILE", trust)
        .env("MINSTREL_ADMIN__LISTEN", "127.0.0.1:0")
        .env("MINSTREL_ADMIN__TOKEN", "metrics")
        .env("MINSTREL_PLUGINS__GRANTS__HTTP__INTERFACES", "[\"http\"]")
        .env(
            "MINSTREL_PLUGINS__GRANTS__HTTP__HTTP_HOSTS",
            "[\"127.0.0.1\"]",
        )
        .env(
            "MINSTREL_PLUGINS__GRANTS__HTTP__HTTP_PORTS",
            format!("[{}]", remote.port()),
        )
        .env(
            "MINSTREL_PLUGINS__GRANTS__HTTP__ALLOW_PRIVATE_ADDRESSES",
            "true",
        );
    BotProcess::start(&mut cmd, &format!("shards {first}")).await
}

/// Where a process's admin listener is, from its log line.
async fn admin_addr(bot: &mut BotProcess) -> SocketAddr {
    let line = bot.logged("admin listener").await;
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .unwrap_or_else(|| panic!("no addr in {line:?}"));
    addr.trim_matches('"').parse().unwrap()
}

/// The sum of the counter samples of `name` with `labels` on the listener at `addr`.
async fn counter(addr: SocketAddr, name: &str, labels: &str) -> f64 {
    let body = reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .bearer_auth("metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The bot's replies to message `id`, with the token of the process that sent each.
fn replies_with_tokens(world: &World, id: u64) -> Vec<(String, String)> {
    let id = id.to_string();
    world
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/messages"))
        .filter(|c| c.body["message_reference"]["message_id"] == id.as_str())
        .map(|c| {
            let content = c.body["content"].as_str().unwrap_or_default().to_string();
            (content, c.token)
        })
        .collect()
}

/// Audio packets the voice endpoint has heard in `guild`.
fn heard(world: &World, guild: u64) -> u64 {
    let s = world.voice().stats(guild);
    s.packets - s.silence_frames
}

#[test]
fn three_processes_of_two_shards_serve_300_guilds_each_guild_by_its_owner() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        let guilds: Vec<u64> = {
            world.add_guilds(299);
            world.guilds()
        };
        assert_eq!(guilds.len(), 300);
        // A song long enough to be still playing when its process is killed, and a
        // slow one (about 4 s to download) to kill a process in the middle of.
        let remote = LocalHttp::start().await.unwrap();
        let song = std::fs::read(sine_ogg(tmp.path(), 440, 30)).unwrap();
        remote.route("/song.ogg", Route::ok(song.clone()).typed("audio/ogg"));
        let slow = std::fs::read(sine_ogg(tmp.path(), 660, 4)).unwrap();
        remote.route(
            "/slow.ogg",
            Route::ok(slow)
                .typed("audio/ogg")
                .paced(40, std::time::Duration::from_millis(100)),
        );

        let mut processes = BTreeMap::new();
        for first in (0..SHARD_COUNT).step_by(SHARDS_EACH as usize) {
            processes.insert(
                first,
                shard_process(&server, tmp.path(), &remote, first).await,
            );
        }
        // Each process identifies its second shard after its first (serenity waits
        // between IDENTIFYs).
        let all_shards = |w: &World| {
            let shards: BTreeSet<[u64; 2]> = w.identified_shards().into_iter().collect();
            shards.len() == SHARD_COUNT as usize
        };
        assert!(
            world.wait_for(WAIT, all_shards).await,
            "{:?}",
            world.identified_shards()
        );
        assert!(
            world
                .identified_shards()
                .iter()
                .all(|s| s[1] == SHARD_COUNT)
        );
        for shard in 0..SHARD_COUNT {
            let guild = guilds
                .iter()
                .find(|g| (*g >> 22) % SHARD_COUNT == shard)
                .unwrap();
            caught_up_in(world, payloads::channels(*guild).general).await;
        }

        // Every guild's `!ping`, delivered twice: one `pong` each, from its owner.
        let asked: Vec<(u64, u64)> = guilds
            .iter()
            .map(|g| {
                (
                    *g,
                    world.send_message_in(payloads::channels(*g).general, ALICE, "!ping", 2),
                )
            })
            .collect();
        let answered = |w: &World| asked.iter().all(|(_, id)| !w.replies_to(*id).is_empty());
        assert!(
            world.wait_for(WAIT, answered).await,
            "not every guild was answered"
        );
        caught_up_in(world, payloads::channels(guilds[299]).general).await;
        let mut by_process: BTreeMap<String, usize> = BTreeMap::new();
        for (guild, id) in &asked {
            let replies = replies_with_tokens(world, *id);
            assert_eq!(replies.len(), 1, "guild {guild}: {replies:?}");
            assert_eq!(replies[0].0, "pong");
            assert_eq!(replies[0].1, token(owner(*guild)), "guild {guild}");
            *by_process.entry(replies[0].1.clone()).or_default() += 1;
        }
        assert_eq!(by_process.len(), PROCESSES as usize, "{by_process:?}");

        // The same URL in 50 guilds over the three processes: one download, one render.
        let url = remote.url("/song.ogg");
        let playing: Vec<u64> = guilds[..50].to_vec();
        for guild in &playing {
            world
                .join_voice(ALICE, payloads::channels(*guild).music)
                .unwrap();
        }
        let plays: Vec<u64> = playing
            .iter()
            .map(|g| {
                world.send_message_in(
                    payloads::channels(*g).general,
                    ALICE,
                    &format!("!play {url}"),
                    1,
                )
            })
            .collect();
        let started = |w: &World| {
            plays.iter().all(|id| {
                w.replies_to(*id).iter().any(|m| {
                    m["content"]
                        .as_str()
                        .is_some_and(|c| c.starts_with("Playing"))
                })
            })
        };
        assert!(
            world.wait_for(WAIT * 2, started).await,
            "not every guild started playing"
        );
        let all_heard = |w: &World| playing.iter().all(|g| heard(w, *g) > 0);
        assert!(
            world.wait_for(WAIT, all_heard).await,
            "not every guild was heard"
        );
        let mut admins = BTreeMap::new();
        for (first, process) in processes.iter_mut() {
            admins.insert(*first, admin_addr(process).await);
        }
        // Summed over the processes; the render follows the first plays (they stream).
        let fetches = async || {
            let (mut downloads, mut renders) = (0.0, 0.0);
            for addr in admins.values() {
                downloads += counter(
                    *addr,
                    "minstrel_fetches_total",
                    "kind=\"download\",outcome=\"ok\"",
                )
                .await;
                renders += counter(
                    *addr,
                    "minstrel_fetches_total",
                    "kind=\"render\",outcome=\"ok\"",
                )
                .await;
            }
            (downloads, renders)
        };
        let rendered = minstrel_tests::wait_for(WAIT, async || fetches().await.1 >= 1.0).await;
        assert!(rendered, "never rendered: {:?}", fetches().await);
        assert_eq!(
            fetches().await,
            (1.0, 1.0),
            "one download and one render in all"
        );
        // The bytes were fetched once (in ranges; each `!play` also checked the URL).
        assert_eq!(remote.downloads("/song.ogg"), 1);
        assert!(remote.hits("/song.ogg") > playing.len() as u64);

        // kill -9 of the first process while its guilds play; restarted, it resumes
        // exactly its own guilds' queues (the others never stopped).
        let mine: Vec<u64> = playing.iter().copied().filter(|g| owner(*g) == 0).collect();
        processes.get_mut(&0).unwrap().kill();
        let restarted = shard_process(&server, tmp.path(), &remote, 0).await;
        processes.insert(0, restarted);
        let line = processes
            .get_mut(&0)
            .unwrap()
            .logged("resumed saved queues")
            .await;
        assert!(
            line.contains(&format!("guilds={}", mine.len())),
            "{} of its guilds should resume: {line}",
            mine.len()
        );
        let before: Vec<u64> = mine.iter().map(|g| heard(world, *g)).collect();
        let again = |w: &World| mine.iter().zip(&before).all(|(g, b)| heard(w, *g) > b + 50);
        assert!(world.wait_for(WAIT, again).await, "its guilds play again");

        // kill -9 of the process downloading a song another process waits for: the
        // waiter takes the download over.
        let (a, b) = {
            let of = |first: u64| {
                *guilds
                    .iter()
                    .find(|g| owner(**g) == first && !playing.contains(g))
                    .unwrap()
            };
            (of(2), of(4))
        };
        let slow_url = remote.url("/slow.ogg");
        let download = "kind=\"download\",outcome=\"ok\"";
        let downloaded_by_b = counter(admins[&4], "minstrel_fetches_total", download).await;
        for guild in [a, b] {
            world
                .join_voice(ALICE, payloads::channels(guild).music)
                .unwrap();
        }
        world.send_message_in(
            payloads::channels(a).general,
            ALICE,
            &format!("!play {slow_url}"),
            1,
        );
        // The source's check, then the download under way.
        assert!(
            world
                .wait_for(WAIT, |_| remote.hits("/slow.ogg") >= 2)
                .await
        );
        world.send_message_in(
            payloads::channels(b).general,
            ALICE,
            &format!("!play {slow_url}"),
            1,
        );
        assert!(
            world
                .wait_for(WAIT, |_| remote.hits("/slow.ogg") >= 3)
                .await
        );
        processes.get_mut(&2).unwrap().kill();
        assert!(
            world.wait_for(WAIT, |w| heard(w, b) > 50).await,
            "the waiting process took the download over and played"
        );
        assert_eq!(remote.hits("/slow.ogg"), 4, "two checks, two downloads");
        let now = counter(admins[&4], "minstrel_fetches_total", download).await;
        assert_eq!(now, downloaded_by_b + 1.0, "the waiter downloaded it");
    });
}

#[test]
fn auto_runs_every_shard_discord_recommends_and_one_shard_too_few_is_warned_of() {
    run(async {
        let tmp = tempfile::tempdir().unwrap();
        let server = LocalDiscord::start().await.unwrap();
        let world = server.world();
        world.add_guilds(5);
        world.set_recommended_shards(2, 1);
        let plugins = tmp.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        let data = tmp.path().join("data");

        // One shard where Discord recommends two: it serves, and says what to do.
        let mut single =
            BotProcess::start(&mut run_command(&server, &data, &plugins, "t"), "single").await;
        let warned = single.logged("Discord recommends more shards").await;
        assert!(warned.contains("recommended=2"), "{warned}");
        single.terminate().await;

        let mut cmd = run_command(&server, &data, &plugins, "t");
        cmd.args(["--shards", "auto"]);
        let _auto = BotProcess::start(&mut cmd, "auto").await;
        let both = |w: &World| {
            let shards: BTreeSet<[u64; 2]> = w.identified_shards().into_iter().collect();
            shards.contains(&[0, 2]) && shards.contains(&[1, 2])
        };
        assert!(
            world.wait_for(WAIT, both).await,
            "{:?}",
            world.identified_shards()
        );
        // One process answers in the guilds of both shards.
        for guild in world.guilds() {
            caught_up_in(world, payloads::channels(guild).general).await;
        }
    });
}
