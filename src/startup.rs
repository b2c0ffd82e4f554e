//! Wiring: one builder that turns settings into the running services
//! (store, bus, hub, the chat and stream services, accounts, limits) and
//! hands them to Rocket as managed state.
//!
//! The store's writer hands commits to the bus, and the bus's fan-out reads
//! the store to fill gaps: [`bus::connect`] gives the publisher first,
//! and the fan-out starts once the store is open. Every background task
//! (housekeeping's timer too) is kept in [`Tasks`] and stopped at shutdown.
//! Nothing here serves requests.

use std::sync::Arc;

use rocket::{Build, Rocket};
use thiserror::Error;

use crate::access::{Access, AccessParts};
use crate::activity::Activity;
use crate::assets::{AssetError, Pages};
use crate::auth::{Accounts, Logins, PasskeyError, Passkeys, PasswordError, PasswordHasher, SecondFactors, Sessions};
use crate::bots::Bots;
use crate::bus::{self, Bus};
use crate::clock::Clock;
use crate::config::Settings;
use crate::housekeeping::Housekeeping;
use crate::limits::Limits;
use crate::live::Streams;
use crate::messages::{Chat, ChatRules};
use crate::metrics::Metrics;
use crate::moderation::Moderation;
use crate::presence::Presence;
use crate::signals::Signals;
use crate::store::files::FileDir;
use crate::store::{Store, StoreError};
use crate::stream::Hub;
use crate::tasks::Tasks;
use crate::uploads::{UploadRules, Uploads};

/// Why the server could not start its services: one line for the log.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("invalid redis_url: {0}")]
    Bus(#[from] redis::RedisError),
    #[error("cannot open the database {url}: {source}")]
    Store { url: String, source: StoreError },
    #[error("cannot start password hashing: {0}")]
    Hashing(#[from] PasswordError),
    #[error(transparent)]
    Pages(#[from] AssetError),
    #[error("cannot use the files directory {path}: {source}")]
    Files { path: std::path::PathBuf, source: std::io::Error },
    #[error("the settings carry no second-factor key: they must come through config::prepare")]
    NoSecondFactorKey,
    #[error(transparent)]
    Passkeys(#[from] PasskeyError),
}

/// Every service the routes use, wired together.
pub struct Services {
    pub chat: Chat,
    pub uploads: Uploads,
    pub moderation: Moderation,
    pub streams: Streams,
    pub sessions: Sessions,
    pub accounts: Accounts,
    pub logins: Logins,
    pub limits: Limits,
    pub presence: Presence,
    pub signals: Signals,
    pub hub: Hub,
    pub bus: Bus,
    pub housekeeping: Housekeeping,
    pub tasks: Arc<Tasks>,
    pub pages: Pages,
    pub bots: Bots,
    pub access: Access,
    pub second_factors: SecondFactors,
    pub passkeys: Passkeys,
    pub activity: Activity,
}

impl Services {
    /// Opens the store, connects the bus and starts the background tasks.
    pub async fn start(settings: &Settings, clock: Clock, metrics: Arc<Metrics>) -> Result<Self, StartError> {
        let pages = Pages::load(settings.template_dir.as_deref())?;
        let tasks = Arc::new(Tasks::new());
        let hub = Hub::with_metrics(settings.room_queue_capacity, metrics.clone(), clock.clone());
        let connection = bus::connect(settings, &hub, clock.clone())?;
        let files_dir = settings.files_dir();
        let files = FileDir::open(&files_dir).map_err(|source| StartError::Files { path: files_dir, source })?;
        let url = settings.database_url();
        let store = Store::open_with(&url, connection.publisher(), metrics.clone(), clock.clone())
            .await
            .map_err(|source| StartError::Store { url: crate::config::redacted_url(&url), source })?
            .with_files(files.clone());
        let (bus, peers) = connection.start(store.clone(), &tasks);
        let hasher = PasswordHasher::new(settings.hash_concurrency).await?;
        let sessions = Sessions::new(store.clone(), clock.clone(), settings.session_policy());
        let mut moderation = Moderation::new(store.clone(), clock.clone(), sessions.clone());
        let mut signal_peers = None;
        if let Some(peers) = peers {
            moderation = moderation.with_peers(peers.outgoing);
            moderation.follow_peers(peers.incoming, &tasks);
            signal_peers = Some((peers.signals_out, peers.signals_in));
        }
        let chat = Chat::new(store.clone(), hub.clone(), moderation.clone(), ChatRules::from(settings));
        let uploads = Uploads::new(chat.clone(), store.clone(), files.clone(), UploadRules::from(settings));
        let limits = Limits::new(&settings.limits, clock.clone(), metrics.clone());
        let access_clock = clock.clone();
        let housekeeping = Housekeeping::new(
            store.clone(),
            clock.clone(),
            sessions.clone(),
            moderation.clone(),
            limits.clone(),
            metrics.clone(),
        )
        .keeping_messages_for(settings.message_retention_days)
        .sweeping_uploads(files);
        housekeeping.clone().start(&tasks, std::time::Duration::from_secs(settings.housekeeping_secs));
        let presence = Presence::new(std::time::Duration::from_millis(settings.presence_grace_ms));
        let signals = Signals::new(signal_peers.as_ref().map(|peers| peers.0.clone()));
        if let Some((out, incoming)) = signal_peers {
            let (lists, remote_lists) = tokio::sync::mpsc::channel(crate::signals::OUTBOX);
            signals.follow_peers(incoming, lists, &tasks);
            presence.share(out, remote_lists, &tasks);
        }
        let bots = Bots::new(store.clone());
        let streams = Streams::new(
            chat.clone(),
            sessions.clone(),
            limits.clone(),
            presence.clone(),
            signals.clone(),
            metrics.clone(),
            bots.clone(),
            settings,
        );
        let key = settings.second_factor_key.clone().ok_or(StartError::NoSecondFactorKey)?;
        let second_factors = SecondFactors::new(
            store.clone(),
            clock.clone(),
            key,
            crate::auth::totp_issuer(settings.public_origin.as_deref()),
        );
        let passkeys = Passkeys::new(
            settings.public_origin.as_deref(),
            store.clone(),
            clock.clone(),
            sessions.clone(),
            moderation.clone(),
        )?;
        let accounts = Accounts::new(store.clone(), hasher.clone(), sessions.clone()).counting(metrics.clone());
        let logins = Logins::new(
            accounts.clone(),
            limits.login.clone(),
            limits.registrations.clone(),
            moderation.clone(),
            second_factors.clone(),
        );
        let activity_store = store.clone();
        let access = Access::new(
            AccessParts {
                store,
                clock: access_clock,
                accounts: accounts.clone(),
                logins: logins.clone(),
                hasher,
                sessions: sessions.clone(),
                moderation: moderation.clone(),
            },
            settings,
        );
        let activity = Activity::new(access.clone(), activity_store, clock.clone(), metrics);
        Ok(Self {
            chat,
            uploads,
            moderation,
            streams,
            sessions,
            accounts,
            logins,
            limits,
            presence,
            signals,
            hub,
            bus,
            housekeeping,
            tasks,
            pages,
            bots,
            access,
            second_factors,
            passkeys,
            activity,
        })
    }

    /// Hands every service to Rocket as managed state.
    pub fn manage(self, rocket: Rocket<Build>) -> Rocket<Build> {
        rocket
            .manage(self.chat)
            .manage(self.uploads)
            .manage(self.moderation)
            .manage(self.streams)
            .manage(self.sessions)
            .manage(self.accounts)
            .manage(self.logins)
            .manage(self.limits)
            .manage(self.presence)
            .manage(self.signals)
            .manage(self.hub)
            .manage(self.bus)
            .manage(self.housekeeping)
            .manage(self.tasks)
            .manage(self.pages)
            .manage(self.bots)
            .manage(self.access)
            .manage(self.second_factors)
            .manage(self.passkeys)
            .manage(self.activity)
    }
}
