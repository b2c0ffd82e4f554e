//! The files directory: where attached files and their thumbnails live on
//! disk (`files_dir`, by default `<data_dir>/files`), and the temporary
//! files uploads are streamed into first.
//!
//! Layout: `<root>/<first two characters of the id>/<id>` for a file and
//! `<id>.thumb` beside it for an image's thumbnail (two characters of
//! base64 make 4096 subdirectories, so no directory grows huge), and
//! `<root>/tmp/` for uploads in progress. A temporary file is renamed into
//! place, which is atomic within one file system: another instance sharing
//! the directory (NFS, a shared volume) sees a whole file or none. Paths
//! are made only from parsed [`FileId`]s, never from a client's name.
//!
//! This owns paths and file operations only; which rows name which files
//! is the store's, who may read them is `uploads`'.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::rooms::FileId;

/// The two files an attachment may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The bytes as uploaded.
    Original,
    /// An image's thumbnail, made by the server.
    Thumbnail,
}

/// A handle on the files directory (cheap to clone).
#[derive(Debug, Clone)]
pub struct FileDir {
    root: Arc<PathBuf>,
}

impl FileDir {
    /// Opens the directory at `root`, creating it and `tmp/` in it if
    /// missing (mode 0700, like the data directory: they hold what people
    /// posted). An existing directory keeps its mode, so a shared one can
    /// be set up as its operator needs.
    pub fn open(root: &Path) -> io::Result<Self> {
        let dir = Self { root: Arc::new(root.to_owned()) };
        create_dir(root)?;
        create_dir(&dir.temp_dir())?;
        std::fs::read_dir(root)?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Where a file of `id` lives.
    pub fn path(&self, id: &FileId, variant: Variant) -> PathBuf {
        let shard = self.root.join(&id.as_str()[..2]);
        match variant {
            Variant::Original => shard.join(id.as_str()),
            Variant::Thumbnail => shard.join(format!("{id}.thumb")),
        }
    }

    /// A new, empty temporary file (mode 0600) and its path. The caller
    /// removes it, or moves it into place with [`FileDir::place`].
    pub fn create_temp(&self) -> io::Result<(std::fs::File, PathBuf)> {
        let path = self.temp_dir().join(format!("{}.part", FileId::random()));
        let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        Ok((file, path))
    }

    /// Moves a finished temporary file into place as `id`'s `variant`.
    pub fn place(&self, temp: &Path, id: &FileId, variant: Variant) -> io::Result<()> {
        let target = self.path(id, variant);
        if let Some(shard) = target.parent() {
            create_dir(shard)?;
        }
        std::fs::rename(temp, target)
    }

    /// Removes `id`'s files (both variants), answering how many were there.
    /// A file already gone counts as removed; any other failure is logged
    /// and the rest still go.
    pub fn remove(&self, id: &FileId) -> usize {
        let mut removed = 0;
        for variant in [Variant::Original, Variant::Thumbnail] {
            match std::fs::remove_file(self.path(id, variant)) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("files: cannot remove {id} ({variant:?}): {e}"),
            }
        }
        removed
    }

    /// Removes temporary files older than `age` (an upload cut off by a
    /// crash): answers how many went. A younger one may be an upload still
    /// streaming, here or on another instance sharing the directory.
    pub fn sweep_temp(&self, age: Duration) -> io::Result<u64> {
        let cutoff = SystemTime::now().checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = 0;
        for entry in std::fs::read_dir(self.temp_dir())? {
            let entry = entry?;
            let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|at| at <= cutoff);
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Creates `dir` (0700) unless it exists.
fn create_dir(dir: &Path) -> io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placed_file_is_found_by_its_id_and_removed_with_its_thumbnail() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::open(&dir.path().join("files")).unwrap();
        let id = FileId::random();
        for variant in [Variant::Original, Variant::Thumbnail] {
            let (mut file, temp) = files.create_temp().unwrap();
            std::io::Write::write_all(&mut file, b"bytes").unwrap();
            files.place(&temp, &id, variant).unwrap();
            assert!(!temp.exists());
        }
        let path = files.path(&id, Variant::Original);
        assert!(path.starts_with(dir.path().join("files").join(&id.as_str()[..2])));
        assert_eq!(std::fs::read(&path).unwrap(), b"bytes");
        assert_eq!(files.remove(&id), 2);
        assert!(!path.exists() && !files.path(&id, Variant::Thumbnail).exists());
        assert_eq!(files.remove(&id), 0, "removing twice is harmless");
    }

    #[test]
    fn only_old_temporary_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::open(dir.path()).unwrap();
        let (_, young) = files.create_temp().unwrap();
        assert_eq!(files.sweep_temp(Duration::from_secs(3600)).unwrap(), 0);
        assert!(young.exists());
        assert_eq!(files.sweep_temp(Duration::ZERO).unwrap(), 1);
        assert!(!young.exists());
    }
}
