//! The audio of the test tone sources (`tone`, `tone-playlist`): a sine at -12 dBFS
//! (so normalisation has something to do), as a 48 kHz mono 16-bit WAV, handed to
//! `write` in pieces of one second, as a real source streams.

pub const RATE: u32 = 48_000;

/// Writes `seconds` of a `frequency` Hz sine as a WAV file through `write`.
pub fn write(
    frequency: u32,
    seconds: u32,
    mut write: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let samples = RATE * seconds;
    write(&header(samples))?;
    let step = std::f32::consts::TAU * frequency as f32 / RATE as f32;
    let mut chunk = Vec::with_capacity(RATE as usize * 2);
    for n in 0..samples {
        let sample = ((n as f32 * step).sin() * 0.25 * i16::MAX as f32) as i16;
        chunk.extend_from_slice(&sample.to_le_bytes());
        if chunk.len() == chunk.capacity() {
            write(&chunk)?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        write(&chunk)?;
    }
    Ok(())
}

fn header(samples: u32) -> Vec<u8> {
    let data = samples * 2;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&RATE.to_le_bytes());
    h.extend_from_slice(&(RATE * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data.to_le_bytes());
    h
}
