//! Fills followed as they happen: a song can play from its bytes as they arrive while
//! the same bytes become a blob.
//!
//! A [`Filling`] is registered per key while this process fetches it (or is about to).
//! Its leader points it at the temp file being written, or at the cached blob when the
//! key turns out to be cached already (another process fetched it). A [`Follower`]
//! reads through a handle on that file, never its name, so neither the rename into
//! `blobs/` nor a failed fill's removal pulls the bytes away; a failed fill ends every
//! follower with the fill's error. Nothing partial ever becomes a blob: following is
//! reading, and only the store persists.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;

use super::TrackKey;

/// Where a fill is.
#[derive(Debug, Clone, Default)]
struct Fill {
    /// The file being written (or the cached blob), once known.
    file: Option<Arc<File>>,
    /// Bytes of `file` that may be read.
    written: u64,
    /// How the fill ended: `Ok` once every byte is written.
    end: Option<Result<(), String>>,
}

/// One fill of one key, shared by its leader and its followers.
#[derive(Debug)]
pub struct Filling {
    state: watch::Sender<Fill>,
}

impl Filling {
    fn new() -> Self {
        Self {
            state: watch::Sender::new(Fill::default()),
        }
    }

    /// A reader of the fill's bytes from the first.
    pub fn follow(&self) -> Follower {
        Follower {
            state: self.state.subscribe(),
            pos: 0,
        }
    }

    /// The fill writes into `file` (a handle that can read it).
    pub(super) fn writing(&self, file: File) {
        self.state.send_modify(|f| f.file = Some(Arc::new(file)));
    }

    /// `written` bytes of the file are there to read.
    pub(super) fn wrote(&self, written: u64) {
        self.state.send_modify(|f| f.written = written);
    }

    /// The key is cached: followers read `file`, complete.
    pub fn cached(&self, file: File) -> io::Result<()> {
        let written = file.metadata()?.len();
        self.state.send_modify(|f| {
            if f.end.is_none() {
                *f = Fill {
                    file: Some(Arc::new(file)),
                    written,
                    end: Some(Ok(())),
                };
            }
        });
        Ok(())
    }

    /// Every byte is written.
    pub(super) fn finished(&self) {
        self.state.send_modify(|f| {
            f.end.get_or_insert(Ok(()));
        });
    }

    /// The fill failed: followers get `error` once they have read what came before.
    pub fn failed(&self, error: String) {
        self.state.send_modify(|f| {
            f.end.get_or_insert(Err(error));
        });
    }

    /// Whether the fill has ended (well or not).
    pub fn ended(&self) -> bool {
        self.state.borrow().end.is_some()
    }
}

/// Reads a fill from its start, waiting for bytes not yet written.
#[derive(Debug, Clone)]
pub struct Follower {
    state: watch::Receiver<Fill>,
    pos: u64,
}

impl Follower {
    /// Up to `buf.len()` bytes; 0 at the end of a finished fill; the fill's error if
    /// it failed.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let (file, written, end) = {
                let fill = self.state.borrow_and_update();
                (fill.file.clone(), fill.written, fill.end.clone())
            };
            if let Some(file) = file
                && self.pos < written
            {
                let want = (written - self.pos).min(buf.len() as u64) as usize;
                let n = file.read_at(&mut buf[..want], self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            match end {
                Some(Ok(())) => return Ok(0),
                Some(Err(e)) => return Err(io::Error::other(e)),
                None => {}
            }
            if self.state.changed().await.is_err() {
                return Err(io::Error::other("the download stopped"));
            }
        }
    }

    /// A new reader of the same fill, from its start.
    pub fn restart(&self) -> Follower {
        Follower {
            state: self.state.clone(),
            pos: 0,
        }
    }
}

/// The fills of this process, by key. Entries are weak: a fill lives as long as its
/// leader or a follower holds it.
#[derive(Debug, Default)]
pub struct Fillings {
    by_key: Mutex<HashMap<TrackKey, Weak<Filling>>>,
}

impl Fillings {
    /// The fill of `key` in this process, started if there is none.
    pub fn get(&self, key: &TrackKey) -> Arc<Filling> {
        let mut map = self.by_key.lock().expect("fillings lock");
        if let Some(filling) = map.get(key).and_then(Weak::upgrade)
            && !filling.ended()
        {
            return filling;
        }
        map.retain(|_, f| f.strong_count() > 0);
        let filling = Arc::new(Filling::new());
        map.insert(key.clone(), Arc::downgrade(&filling));
        filling
    }

    /// Forgets `filling` (it has ended), unless a newer one took its place.
    pub fn remove(&self, key: &TrackKey, filling: &Arc<Filling>) {
        let mut map = self.by_key.lock().expect("fillings lock");
        if map
            .get(key)
            .is_some_and(|f| std::ptr::eq(f.as_ptr(), Arc::as_ptr(filling)))
        {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn followers_read_what_is_written_then_the_end_or_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        let mut writer = File::create_new(&path).unwrap();
        let filling = Filling::new();
        let mut follower = filling.follow();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 3];
            loop {
                match follower.read(&mut buf).await {
                    Ok(0) => return Ok(got),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => return Err((got, e.to_string())),
                }
            }
        });
        filling.writing(File::open(&path).unwrap());
        writer.write_all(b"hello ").unwrap();
        filling.wrote(6);
        writer.write_all(b"world").unwrap();
        filling.wrote(11);
        filling.finished();
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.unwrap(), b"hello world");

        // A failed fill: what came before, then the error.
        let failing = Filling::new();
        failing.writing(File::open(&path).unwrap());
        failing.wrote(5);
        failing.failed("the source hung up".into());
        let mut follower = failing.follow();
        let mut buf = [0u8; 64];
        assert_eq!(follower.read(&mut buf).await.unwrap(), 5);
        let error = follower.read(&mut buf).await.unwrap_err();
        assert_eq!(error.to_string(), "the source hung up");
    }
}
