//! The `chart` mention plugin and the `poll` command plugin, end to end: the real
//! poise/serenity bot against the local Discord-compatible server, the plugins as
//! built by scripts/build-plugins.sh.

use std::path::Path;

use minstrel::app::Host;
use minstrel::discord::BotOptions;
use minstrel::plugins::Grant;
use minstrel_local::discord::payloads::{ALICE, BOB, BOT_ID};
use minstrel_local::discord::{LocalDiscord, World};
use minstrel_tests::bot::*;
use serde_json::{Value, json};

/// The chart size the plugin draws (plugins/chart/src/render.rs).
const CHART: (u32, u32) = (800, 500);

/// The bot with `chart` (may ask the LLM, which is not configured here) and `poll`
/// (keeps polls in kv) loaded.
async fn start(dir: &Path) -> (LocalDiscord, Host) {
    let server = LocalDiscord::start().await.unwrap();
    let host = start_host(&server, dir).await;
    (server, host)
}

/// The host on `dir`, connected to `server`.
async fn start_host(server: &LocalDiscord, dir: &Path) -> Host {
    let mut config = host_config(dir);
    install(&config, "chart", "chart");
    install(&config, "poll", "poll");
    config.plugins.grants.insert(
        "chart".into(),
        Grant {
            interfaces: vec!["llm".into()],
            ..Grant::default()
        },
    );
    config.plugins.grants.insert(
        "poll".into(),
        Grant {
            interfaces: vec!["kv".into()],
            kv_quota: Some(100),
            ..Grant::default()
        },
    );
    let options = BotOptions {
        mention_order: vec!["chart".into()],
        shards: minstrel::shards::ShardPlan::Single,
        ..bot_options(server)
    };
    start_bot(server, &config, options, "poll").await
}

/// Fetches an attachment of a bot message from its URL and decodes the PNG.
async fn png_size(attachment: &Value) -> (u32, u32) {
    let url = attachment["url"].as_str().unwrap().to_string();
    let bytes = tokio::task::spawn_blocking(move || http_get(&url))
        .await
        .unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).expect("PNG image data");
    (frame.width, frame.height)
}

/// A plain HTTP/1.0 GET over loopback (the local server's attachment URLs).
fn http_get(url: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&response[..split]);
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{head}"
    );
    response[split + 4..].to_vec()
}

/// The reply to mention `id` (which joins `mentions`, to be checked for a second reply).
async fn chart_reply(world: &World, id: u64, mentions: &mut Vec<u64>) -> (String, Vec<Value>) {
    mentions.push(id);
    let reply = reply_to(world, id).await;
    let files = reply["attachments"].as_array().cloned().unwrap_or_default();
    (reply["content"].as_str().unwrap().to_string(), files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tables_become_png_charts_and_bad_tables_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (server, host) = start(dir.path()).await;
    let world = server.world();
    let mut mentions = Vec::new();

    // A markdown table.
    let id = world.send_message(
        ALICE,
        &format!(
            "<@{BOT_ID}> bar chart of this table\n\
             | fruit | sold |\n|---|---|\n| apples | 12 |\n| pears | 7 |\n| plums | 3 |"
        ),
        1,
    );
    let (text, files) = chart_reply(world, id, &mut mentions).await;
    assert_eq!(text, "Bar chart of sold by fruit (3 rows).");
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["filename"], "chart.png");
    assert_eq!(png_size(&files[0]).await, CHART);

    // CSV lines in a code fence, a pie asked for by name.
    let id = world.send_message(
        ALICE,
        &format!("<@{BOT_ID}> pie chart of votes\n```csv\nparty,votes\nA,120\nB,80\nC,40\n```"),
        1,
    );
    let (text, files) = chart_reply(world, id, &mut mentions).await;
    assert_eq!(text, "Pie chart of votes by party (3 rows).");
    assert_eq!(png_size(&files[0]).await, CHART);

    // An attached CSV and a vague request with two number columns: the LLM is asked,
    // is not configured, and the deterministic choice draws a line over months.
    let csv = b"month,visits,signups\njan,300,20\nfeb,420,35\nmar,380,31\n".to_vec();
    let id = world.send_message_with_files(
        ALICE,
        &format!("<@{BOT_ID}> chart this"),
        &[("traffic.csv", "text/csv", csv)],
    );
    let (text, files) = chart_reply(world, id, &mut mentions).await;
    assert_eq!(text, "Line chart of visits, signups by month (3 rows).");
    assert_eq!(png_size(&files[0]).await, CHART);

    // Bad tables: one explanation each, no attachment.
    for (table, expected) in [
        (
            "| a | b |\n|---|---|\n| x | 1 |\n| y |",
            "row 2 has 1 cells but the header has 2",
        ),
        (
            "| a | b |\n|---|---|\n| x | y |",
            "no column holds only numbers",
        ),
    ] {
        let id = world.send_message(ALICE, &format!("<@{BOT_ID}> bar chart\n{table}"), 1);
        let (text, files) = chart_reply(world, id, &mut mentions).await;
        assert!(text.contains(expected), "{text}");
        assert!(files.is_empty(), "{files:?}");
    }
    // No table: the chart plugin does not claim it, and no other mention plugin is
    // loaded, so the host says so.
    let id = world.send_message(ALICE, &format!("<@{BOT_ID}> plot something nice"), 1);
    let (text, files) = chart_reply(world, id, &mut mentions).await;
    assert!(text.contains("No mention plugin answers"), "{text}");
    assert!(files.is_empty());

    // Each mention got exactly one reply, and nothing else was posted (but the `pong`).
    caught_up(world).await;
    for id in &mentions {
        assert_eq!(
            world.replies_to(*id).len(),
            1,
            "{:?}",
            world.replies_to(*id)
        );
    }
    assert_eq!(world.bot_messages().len(), mentions.len() + 1);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poll_commands_work_as_slash_and_prefix_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (server, host) = start(dir.path()).await;
    let world = server.world();
    let names: Vec<String> = world
        .guild_commands()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    for expected in ["poll", "vote", "results", "endpoll"] {
        assert!(names.contains(&expected.to_string()), "{names:?}");
    }

    // Slash: open a poll.
    let token = world.slash(
        ALICE,
        "poll",
        json!([
            {"name": "question", "type": 3, "value": "Lunch?"},
            {"name": "choices", "type": 3, "value": "pizza | sushi | tacos"}
        ]),
        1,
    );
    let body = interaction_reply(world, &token).await;
    let content = body["data"]["content"].as_str().unwrap();
    assert!(content.starts_with("**Lunch?** (0 votes)"), "{content}");

    // Autocomplete offers the open poll's matching choices.
    let token = world.autocomplete(
        ALICE,
        "vote",
        json!([{"name": "choice", "type": 3, "value": "SU", "focused": true}]),
    );
    let body = interaction_reply(world, &token).await;
    assert_eq!(body["type"], 8);
    assert_eq!(
        body["data"]["choices"],
        json!([{"name": "sushi", "value": "sushi"}])
    );

    // A slash vote is answered to the voter only.
    let token = world.slash(
        ALICE,
        "vote",
        json!([{"name": "choice", "type": 3, "value": "sushi"}]),
        1,
    );
    let body = interaction_reply(world, &token).await;
    assert_eq!(body["data"]["content"], "You voted for **sushi**.");
    assert_eq!(body["data"]["flags"], 64, "ephemeral");

    // Prefix votes, a vote for a missing choice, and the results.
    let id = world.send_message(BOB, "!vote 1", 1);
    assert_eq!(
        reply_to(world, id).await["content"],
        "You voted for **pizza**."
    );
    let id = world.send_message(BOB, "!vote burgers", 1);
    let refused = reply_to(world, id).await;
    assert!(
        refused["content"]
            .as_str()
            .unwrap()
            .contains("not a choice"),
        "{refused}"
    );
    let id = world.send_message(BOB, "!results", 1);
    let results = reply_to(world, id).await;
    let text = results["content"].as_str().unwrap();
    assert!(text.starts_with("**Lunch?** (2 votes)"), "{text}");
    assert!(
        text.contains(&format!(
            "pizza  {}{}  1 (50%)",
            "█".repeat(10),
            "░".repeat(10)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("tacos  {}  0 (0%)", "░".repeat(20))),
        "{text}"
    );

    // The poll outlives the bot: a new host on the same data folder (kv lives in the
    // store's database) counts on from the same votes.
    host.shutdown().await;
    let host = start_host(&server, dir.path()).await;
    let id = world.send_message(ALICE, "!vote tacos", 1);
    assert_eq!(
        reply_to(world, id).await["content"],
        "You voted for **tacos**."
    );
    let id = world.send_message(BOB, "!results", 1);
    let text = reply_to(world, id).await["content"].to_string();
    // Alice's vote moved from sushi to tacos; Bob's for pizza is still there.
    assert!(text.contains("**Lunch?** (2 votes)"), "{text}");
    let half = format!("{}{}  1 (50%)", "█".repeat(10), "░".repeat(10));
    assert!(text.contains(&format!("pizza  {half}")), "{text}");
    assert!(text.contains(&format!("tacos  {half}")), "{text}");

    // Prefix form of a new poll with a multi-word question; only its author ends it.
    let id = world.send_message(BOB, "!poll Where shall we meet? | park | cafe", 1);
    let opened = reply_to(world, id).await;
    assert!(
        opened["content"]
            .as_str()
            .unwrap()
            .starts_with("**Where shall we meet?** (0 votes)"),
        "{opened}"
    );
    let id = world.send_message(ALICE, "!endpoll", 1);
    assert_eq!(
        reply_to(world, id).await["content"],
        "Only the poll's author can end it."
    );
    let token = world.slash(BOB, "endpoll", json!([]), 1);
    let body = interaction_reply(world, &token).await;
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("[closed]"),
        "{body}"
    );
    host.shutdown().await;
}
