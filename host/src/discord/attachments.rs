//! Files attached to a mention, downloaded for the mention plugin (a CSV to chart, a
//! text to read). Bounded so a mention cannot make the host fetch much: at most
//! [`MAX_FILES`] files of at most [`MAX_BYTES`] each (by Discord's declared size, and
//! again while reading), within [`TIMEOUT`]. A file that is too large or fails to
//! download is left out and logged; the mention is still handled.

use std::time::Duration;

use futures::StreamExt;
use poise::serenity_prelude as serenity;

use crate::plugins::types::Attachment;

pub const MAX_FILES: usize = 4;
pub const MAX_BYTES: u64 = 1 << 20;
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The message's attachments that fit the bounds, with their bytes.
pub async fn collect(msg: &serenity::Message) -> Vec<Attachment> {
    let wanted: Vec<&serenity::Attachment> = msg
        .attachments
        .iter()
        .filter(|a| u64::from(a.size) <= MAX_BYTES)
        .take(MAX_FILES)
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "no HTTP client for attachments");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for attachment in wanted {
        match download(&client, &attachment.url).await {
            Ok(data) => out.push(Attachment {
                filename: attachment.filename.clone(),
                content_type: attachment
                    .content_type
                    .clone()
                    .unwrap_or_else(|| guess_type(&attachment.filename).into()),
                data,
            }),
            Err(e) => {
                tracing::warn!(file = %attachment.filename, error = %e, "attachment left out")
            }
        }
    }
    out
}

async fn download(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut body = response.bytes_stream();
    let mut data = Vec::new();
    while let Some(chunk) = body.next().await {
        data.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        if data.len() as u64 > MAX_BYTES {
            return Err(format!("larger than {MAX_BYTES} bytes"));
        }
    }
    Ok(data)
}

/// A content type from the file name, for attachments Discord sent without one.
fn guess_type(filename: &str) -> &'static str {
    let lower = filename.to_ascii_lowercase();
    let extension = lower.rsplit_once('.').map_or("", |(_, e)| e);
    match extension {
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "txt" | "md" => "text/plain",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_guessed_from_names() {
        assert_eq!(guess_type("Sales.CSV"), "text/csv");
        assert_eq!(guess_type("a.tsv"), "text/tab-separated-values");
        assert_eq!(guess_type("noext"), "application/octet-stream");
    }
}
