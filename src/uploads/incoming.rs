//! A file as it streams in: written chunk by chunk to a temporary file of
//! the files directory, counted as it goes, refused the moment it passes
//! `upload_max_bytes` (nothing more is read or kept), and removed unless it
//! is moved into place. Only the first bytes stay in memory, for sniffing.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncWriteExt, BufWriter};

use super::UploadError;
use super::sniff::HEAD_BYTES;
use crate::store::files::FileDir;

/// Bytes gathered before each write to disk: a few large writes rather
/// than one per network chunk (each file write is a hand-off to the
/// blocking pool).
const WRITE_BUFFER: usize = 256 * 1024;

/// A temporary file that is removed when dropped, unless [`TempFile::keep`]
/// says it has been moved away.
#[derive(Debug)]
pub struct TempFile(Option<PathBuf>);

impl TempFile {
    pub fn new(path: PathBuf) -> Self {
        Self(Some(path))
    }

    pub fn path(&self) -> &Path {
        self.0.as_deref().expect("a temporary file is kept only once")
    }

    /// It was moved into place: nothing to remove.
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // One unlink, on every way out (a refusal, an error, a client that
        // went away mid-upload): a moment of the thread, not worth a task.
        if let Some(path) = self.0.take()
            && let Err(e) = std::fs::remove_file(&path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!("uploads: cannot remove {}: {e}", path.display());
        }
    }
}

/// An upload being received.
pub struct Incoming {
    out: BufWriter<tokio::fs::File>,
    temp: TempFile,
    written: u64,
    max: u64,
    head: Vec<u8>,
}

/// A file received whole and on disk.
#[derive(Debug)]
pub struct Received {
    pub temp: TempFile,
    pub size: u64,
    /// Its first [`HEAD_BYTES`] (fewer if it is shorter).
    pub head: Vec<u8>,
}

impl Incoming {
    /// A new temporary file in `files`, taking at most `max` bytes.
    pub(super) async fn create(files: &FileDir, max: u64) -> io::Result<Self> {
        let files = files.clone();
        let (file, path) =
            tokio::task::spawn_blocking(move || files.create_temp()).await.map_err(io::Error::other)??;
        let temp = TempFile::new(path);
        let out = BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::from_std(file));
        Ok(Self { out, temp, written: 0, max, head: Vec::with_capacity(HEAD_BYTES) })
    }

    /// Appends `chunk`; refuses it (keeping nothing of it) if the file
    /// would pass the limit.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        let size = self.written.saturating_add(chunk.len() as u64);
        if size > self.max {
            return Err(UploadError::TooLarge(self.max));
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.out.write_all(chunk).await?;
        self.written = size;
        Ok(())
    }

    /// Flushes the file to disk (a 201 means it is stored, as a message is).
    pub(super) async fn finish(mut self) -> io::Result<Received> {
        self.out.flush().await?;
        self.out.get_ref().sync_all().await?;
        Ok(Received { temp: self.temp, size: self.written, head: self.head })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_over_the_limit_is_refused_at_the_chunk_that_passes_it_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::open(dir.path()).unwrap();
        let mut incoming = Incoming::create(&files, 10).await.unwrap();
        let path = incoming.temp.path().to_owned();
        incoming.write(b"12345").await.unwrap();
        incoming.write(b"67890").await.unwrap();
        assert!(matches!(incoming.write(b"!").await, Err(UploadError::TooLarge(10))));
        drop(incoming);
        assert!(!path.exists(), "the temporary file goes with the refused upload");
    }

    #[tokio::test]
    async fn a_finished_file_is_on_disk_with_its_head() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::open(dir.path()).unwrap();
        let mut incoming = Incoming::create(&files, 1 << 20).await.unwrap();
        for _ in 0..3 {
            incoming.write(&[7u8; 300]).await.unwrap();
        }
        let received = incoming.finish().await.unwrap();
        assert_eq!((received.size, received.head.len()), (900, HEAD_BYTES));
        assert_eq!(std::fs::read(received.temp.path()).unwrap().len(), 900);
        let path = received.temp.path().to_owned();
        drop(received);
        assert!(!path.exists());
    }
}
