//! Files attached to messages: who may upload (where they may post, guests
//! only with `guest_uploads`, within their quota), receiving a file within
//! `upload_max_bytes` (`incoming`), telling what it is from its bytes
//! (`sniff`), decoding images within bounds into a thumbnail without
//! metadata (`images`, on the blocking pool, a few at a time), posting it
//! through the chat service's one posting path, and handing a file to
//! someone who may read its room (decided at every request).
//!
//! It knows nothing of HTTP: the web layer parses the multipart body and
//! feeds the file's bytes to an [`Incoming`], and encodes what
//! [`Uploads::open`] finds. Where files live is `store::files`.

mod avatars;
mod images;
mod incoming;
mod sniff;

pub use avatars::{AVATAR_SIDE, Avatar, MAX_HANDLE_BYTES, default_svg};
pub use images::{ImageRefusal, MAX_PIXELS};
pub use incoming::{Incoming, Received, TempFile};
pub use sniff::{ImageKind, Sniffed, sniff};

use std::io;
use std::sync::Arc;

use thiserror::Error;
use tokio::sync::Semaphore;

use crate::auth::Visitor;
use crate::config::Settings;
use crate::messages::{Chat, PostError};
use crate::rooms::{Attachment, Author, Delivery, FileId, FileName, RoomName};
use crate::store::files::{FileDir, Variant};
use crate::store::{Store, StoreError};

/// Why an upload (or a file) was refused. Each reason is shown to the
/// user; an I/O failure is opaque (logged by the web layer).
#[derive(Debug, Error)]
pub enum UploadError {
    #[error("guests may not attach files here: log in or register")]
    GuestsMayNotUpload,
    #[error("the file is larger than the limit of {} (upload_max_bytes)", size(*.0))]
    TooLarge(u64),
    #[error("your files fill your quota of {}: delete messages with files to make room", size(*.0))]
    QuotaFull(u64),
    #[error("the form has no file: send it in the field \"file\"")]
    NoFile,
    #[error("the file is empty")]
    EmptyFile,
    #[error(transparent)]
    Image(ImageRefusal),
    /// A malformed multipart body, or a field that is not allowed.
    #[error("{0}")]
    Form(String),
    #[error("send the file as multipart/form-data")]
    NotMultipart,
    #[error("no such file")]
    NoSuchFile,
    #[error("an avatar must be a PNG, JPEG, GIF or WebP image")]
    NotAnImage,
    #[error("only members have avatars: log in or register")]
    AvatarsAreForMembers,
    /// Refused by the posting rules (or the store behind them).
    #[error(transparent)]
    Post(#[from] PostError),
    #[error("the server could not store the file; try again shortly")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ImageRefusal> for UploadError {
    fn from(refusal: ImageRefusal) -> Self {
        match refusal {
            ImageRefusal::Io(e) => UploadError::Io(e),
            other => UploadError::Image(other),
        }
    }
}

/// `n` bytes as people read them: `10 MiB`, `1 GiB`, `1.5 KiB`, `12 bytes`.
pub fn size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if n >= unit {
            let amount = format!("{:.1}", n as f64 / unit as f64);
            return format!("{} {name}", amount.trim_end_matches(".0"));
        }
    }
    format!("{n} bytes")
}

/// The settings uploads follow.
#[derive(Debug, Clone, Copy)]
pub struct UploadRules {
    pub max_bytes: u64,
    pub quota_bytes: u64,
    pub guest_uploads: bool,
}

impl From<&Settings> for UploadRules {
    fn from(settings: &Settings) -> Self {
        Self {
            max_bytes: settings.upload_max_bytes,
            quota_bytes: settings.upload_quota_bytes,
            guest_uploads: settings.guest_uploads,
        }
    }
}

/// An upload allowed to start: checked before any of its body is read.
#[derive(Debug)]
pub struct Admitted {
    room: RoomName,
    author: Author,
}

/// What the web layer read from an upload's form.
pub struct UploadForm {
    pub file: Incoming,
    /// The name the client gave the file.
    pub name: String,
    pub text: String,
    pub reply_to: Option<i64>,
}

/// A file to send, opened, with what its answer needs to say.
pub struct OpenFile {
    pub file: tokio::fs::File,
    pub len: u64,
    pub attachment: Attachment,
    pub variant: Variant,
}

impl OpenFile {
    /// The type it is served as: an image (or its thumbnail) as what it
    /// is, shown inline; anything else as bytes to save, whatever it is.
    pub fn served_type(&self) -> Option<&'static str> {
        let kind = ImageKind::of_content_type(&self.attachment.content_type).filter(|_| self.attachment.is_image())?;
        Some(match self.variant {
            Variant::Original => kind.content_type(),
            Variant::Thumbnail => kind.thumbnail_type(),
        })
    }
}

/// The upload service: one per server, shared by every route.
#[derive(Clone)]
pub struct Uploads {
    chat: Chat,
    store: Store,
    files: FileDir,
    rules: UploadRules,
    /// Images decoded at once: each may take hundreds of megabytes and a
    /// core for a second, so a burst of uploads waits here instead.
    decoding: Arc<Semaphore>,
}

impl Uploads {
    pub fn new(chat: Chat, store: Store, files: FileDir, rules: UploadRules) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let decoding = Arc::new(Semaphore::new(cores.saturating_sub(1).max(1)));
        Self { chat, store, files, rules, decoding }
    }

    /// The largest file an upload may carry.
    pub fn max_bytes(&self) -> u64 {
        self.rules.max_bytes
    }

    /// Whether `visitor` may start an upload to `room` now: where they may
    /// post (a room they may not read is 404, as everywhere), as a member
    /// or with `guest_uploads`, with room left in their quota.
    pub async fn admit(&self, visitor: &Visitor, room: &RoomName) -> Result<Admitted, UploadError> {
        self.chat.may_post(visitor, room).await?;
        if visitor.is_guest() && !self.rules.guest_uploads {
            return Err(UploadError::GuestsMayNotUpload);
        }
        let author = visitor.author();
        if self.store.uploaded_bytes(&author).await? >= self.rules.quota_bytes {
            return Err(UploadError::QuotaFull(self.rules.quota_bytes));
        }
        Ok(Admitted { room: room.clone(), author })
    }

    /// A new file to receive, within `upload_max_bytes`.
    pub async fn receive(&self) -> Result<Incoming, UploadError> {
        Ok(Incoming::create(&self.files, self.rules.max_bytes).await?)
    }

    /// Stores the received file and posts it as a message of the admitted
    /// room: the quota again with the file's size, the type from its bytes,
    /// a thumbnail for an image, then the one posting path (its checks
    /// again, the text, the reply). Nothing is left on disk if any step
    /// refuses it.
    pub async fn publish(
        &self,
        visitor: &Visitor,
        admitted: Admitted,
        form: UploadForm,
    ) -> Result<Arc<Delivery>, UploadError> {
        let received = form.file.finish().await?;
        if received.size == 0 {
            return Err(UploadError::EmptyFile);
        }
        let used = self.store.uploaded_bytes(&admitted.author).await?;
        if used.saturating_add(received.size) > self.rules.quota_bytes {
            return Err(UploadError::QuotaFull(self.rules.quota_bytes));
        }
        let sniffed = sniff(&received.head);
        let thumbnail = match sniffed.image {
            Some(kind) => Some(self.thumbnail(&received, kind).await?),
            None => None,
        };
        let attachment = Attachment {
            id: FileId::random(),
            name: FileName::sanitize(&form.name),
            content_type: sniffed.content_type.to_owned(),
            size: received.size,
            width: thumbnail.as_ref().map(|t| t.width),
            height: thumbnail.as_ref().map(|t| t.height),
        };
        self.place(&attachment.id, received.temp, thumbnail.map(|t| t.file)).await?;
        let posted =
            self.chat.post_with(admitted.room, visitor, &form.text, form.reply_to, vec![attachment.clone()]).await;
        if posted.is_err() {
            let (files, id) = (self.files.clone(), attachment.id);
            tokio::task::spawn_blocking(move || files.remove(&id)).await.map_err(io::Error::other)?;
        }
        Ok(posted?)
    }

    async fn thumbnail(&self, received: &Received, kind: ImageKind) -> Result<images::Thumbnail, UploadError> {
        let _permit = self.decoding.acquire().await.map_err(io::Error::other)?;
        let (source, files) = (received.temp.path().to_owned(), self.files.clone());
        let made = tokio::task::spawn_blocking(move || images::thumbnail(&source, kind, &files));
        Ok(made.await.map_err(io::Error::other)??)
    }

    /// Moves the file (and its thumbnail) into place under `id`.
    async fn place(&self, id: &FileId, file: TempFile, thumbnail: Option<TempFile>) -> io::Result<()> {
        let (files, id) = (self.files.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            files.place(file.path(), &id, Variant::Original)?;
            file.keep();
            if let Some(thumbnail) = thumbnail {
                let placed = files.place(thumbnail.path(), &id, Variant::Thumbnail);
                if placed.is_err() {
                    files.remove(&id);
                }
                placed?;
                thumbnail.keep();
            }
            Ok(())
        })
        .await
        .map_err(io::Error::other)?
    }

    /// File `id` (or its thumbnail) for `visitor`: only while its message
    /// has it, and only for someone who may read its room now (anyone
    /// else gets the same "no such file" as for an id that never was).
    pub async fn open(&self, visitor: &Visitor, id: &str, variant: Variant) -> Result<OpenFile, UploadError> {
        let id = FileId::parse(id).ok_or(UploadError::NoSuchFile)?;
        let stored = self.store.attachment(&id).await?.ok_or(UploadError::NoSuchFile)?;
        if !self.chat.can_read(visitor, &stored.room).await? {
            return Err(UploadError::NoSuchFile);
        }
        if variant == Variant::Thumbnail && !stored.attachment.is_image() {
            return Err(UploadError::NoSuchFile);
        }
        let file = match tokio::fs::File::open(self.files.path(&id, variant)).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A row without its file: the directory is not the one the
                // uploading instance wrote to (files_dir not shared?).
                tracing::warn!("uploads: attachment {id} has a row but no file in {}", self.files.root().display());
                return Err(UploadError::NoSuchFile);
            }
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata().await?.len();
        Ok(OpenFile { file, len, attachment: stored.attachment, variant })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size(10 * 1024 * 1024), "10 MiB");
        assert_eq!(size(1 << 30), "1 GiB");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(12), "12 bytes");
    }
}
