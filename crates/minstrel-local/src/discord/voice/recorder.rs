//! An Ogg Opus file (RFC 7845) of the Opus packets one guild's client sent.
//!
//! Packets are written in arrival order, gaps (pauses) left out, so the file's length is
//! the audio actually sent. Granule positions count 48 kHz samples from each packet's
//! TOC byte; the pre-skip is 0 because the encoder's own delay is unknown here (the
//! packets pass through from the source file). Pages are flushed about once a second so
//! a person can play the file while it grows; the last packet is held back so that
//! [`Recorder::finish`] can mark it end-of-stream.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::rtp::opus_samples;

const PACKETS_PER_PAGE: u32 = 50;

pub struct Recorder {
    path: PathBuf,
    writer: PacketWriter<'static, BufWriter<File>>,
    serial: u32,
    granule: u64,
    held: Option<(Vec<u8>, u64)>,
    on_page: u32,
}

impl Recorder {
    /// Creates (or truncates) `path` and writes the two header packets.
    pub fn create(path: &Path, serial: u32) -> std::io::Result<Recorder> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut writer = PacketWriter::new(BufWriter::new(File::create(path)?));
        writer.write_packet(opus_head(), serial, PacketWriteEndInfo::EndPage, 0)?;
        writer.write_packet(opus_tags(), serial, PacketWriteEndInfo::EndPage, 0)?;
        writer.inner_mut().flush()?;
        Ok(Recorder {
            path: path.to_owned(),
            writer,
            serial,
            granule: 0,
            held: None,
            on_page: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one Opus packet.
    pub fn push(&mut self, opus: Vec<u8>) -> std::io::Result<()> {
        self.granule += opus_samples(&opus).unwrap_or(960);
        let previous = self.held.replace((opus, self.granule));
        if let Some((packet, granule)) = previous {
            self.on_page += 1;
            let end = if self.on_page >= PACKETS_PER_PAGE {
                self.on_page = 0;
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            self.writer
                .write_packet(packet, self.serial, end, granule)?;
            if end == PacketWriteEndInfo::EndPage {
                self.writer.inner_mut().flush()?;
            }
        }
        Ok(())
    }

    /// Writes the held packet as the end of the stream and flushes.
    pub fn finish(mut self) -> std::io::Result<PathBuf> {
        if let Some((packet, granule)) = self.held.take() {
            self.writer.write_packet(
                packet,
                self.serial,
                PacketWriteEndInfo::EndStream,
                granule,
            )?;
        }
        self.writer.inner_mut().flush()?;
        Ok(self.path)
    }
}

/// OpusHead: version 1, stereo, pre-skip 0, 48 kHz, gain 0, mapping family 0.
fn opus_head() -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(2);
    head.extend_from_slice(&0u16.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0);
    head
}

fn opus_tags() -> Vec<u8> {
    let vendor = b"minstrel local voice";
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_granules_and_end_of_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.ogg");
        let mut rec = Recorder::create(&path, 7).unwrap();
        for _ in 0..120 {
            rec.push(vec![0xfc, 0, 0, 0]).unwrap(); // 20 ms each
        }
        rec.finish().unwrap();
        let mut reader = ogg::PacketReader::new(File::open(&path).unwrap());
        let head = reader.read_packet_expected().unwrap();
        assert!(head.data.starts_with(b"OpusHead"));
        let tags = reader.read_packet_expected().unwrap();
        assert!(tags.data.starts_with(b"OpusTags"));
        let mut packets = 0;
        let mut last = None;
        while let Some(p) = reader.read_packet().unwrap() {
            packets += 1;
            last = Some((p.absgp_page(), p.last_in_stream()));
        }
        assert_eq!(packets, 120);
        assert_eq!(last, Some((120 * 960, true)));
    }
}
