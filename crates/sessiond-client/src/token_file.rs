//! [`TokenFile`]: a CLI session's tokens kept in a private file (seed 001 `Session`).
//!
//! # Security
//! The file is created `0600` in a folder created `0700`; a file or folder that others can read
//! or write is refused. Writes are atomic (temporary file in the same folder, fsync, rename,
//! fsync of the folder). [`TokenFile::lock`] takes an exclusive lock on a sidecar `.lock` file
//! so that concurrent processes serialise their read–refresh–write sequences and never refresh
//! an already rotated token.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a token-file operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenFileError {
    /// The file or its folder is accessible to other users.
    #[error(
        "{path} is accessible to other users (mode {mode:o}); it holds session tokens: run `chmod {want:o} {path}` or choose another --token-file"
    )]
    NotPrivate {
        /// The offending path.
        path: String,
        /// Its mode.
        mode: u32,
        /// The mode it should have.
        want: u32,
    },
    /// The file exists but is not a sessiond token file.
    #[error("{path} is not a sessiond token file: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// An I/O error.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What a token file holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredSession {
    /// Format version (1).
    pub version: u32,
    /// The server the session belongs to.
    pub url: String,
    /// Session handle.
    pub session_handle: String,
    /// The user.
    pub user_id: String,
    /// Access token.
    pub access_token: String,
    /// Access-token expiry (ms since the epoch).
    pub access_token_expiry: i64,
    /// Refresh token.
    pub refresh_token: String,
    /// Anti-CSRF token, if the session has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_csrf_token: Option<String>,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("url", &self.url)
            .field("session_handle", &self.session_handle)
            .field("user_id", &self.user_id)
            .field("access_token_expiry", &self.access_token_expiry)
            .finish_non_exhaustive()
    }
}

/// A token file at a path.
#[derive(Debug, Clone)]
pub struct TokenFile {
    path: PathBuf,
}

/// An exclusive lock over a token file; released on drop.
#[derive(Debug)]
pub struct TokenFileLock {
    _file: File,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TokenFileError {
    let path = path.display().to_string();
    move |source| TokenFileError::Io { action, path, source }
}

#[cfg(unix)]
fn check_private(path: &Path, want: u32) -> Result<(), TokenFileError> {
    use std::os::unix::fs::PermissionsExt;
    match fs::metadata(path) {
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(TokenFileError::NotPrivate {
                    path: path.display().to_string(),
                    mode,
                    want,
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("inspect", path)(e)),
    }
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: u32) -> Result<(), TokenFileError> {
    Ok(())
}

fn private_file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

impl TokenFile {
    /// A token file at `path` (nothing is touched until used).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `$XDG_STATE_HOME/sessiond/session.json`, else `~/.local/state/sessiond/session.json`.
    pub fn default_path() -> PathBuf {
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state"))
            })
            .unwrap_or_else(|| PathBuf::from("."));
        state.join("sessiond").join("session.json")
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn folder(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn ensure_folder(&self) -> Result<PathBuf, TokenFileError> {
        let folder = self.folder();
        if !folder.exists() {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(&folder).map_err(io("create folder", &folder))?;
        }
        check_private(&folder, 0o700)?;
        Ok(folder)
    }

    /// Takes the exclusive lock (blocking until other processes release it). Hold it across a
    /// read–refresh–write sequence.
    ///
    /// # Errors
    /// [`TokenFileError`] when the folder is not private or the lock file cannot be opened.
    pub fn lock(&self) -> Result<TokenFileLock, TokenFileError> {
        self.ensure_folder()?;
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let file = private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io("open lock file", &lock_path))?;
        file.lock().map_err(io("lock", &lock_path))?;
        Ok(TokenFileLock { _file: file })
    }

    /// Reads the stored session; `None` when there is no file.
    ///
    /// # Errors
    /// [`TokenFileError::NotPrivate`] for a file or folder others can access;
    /// [`TokenFileError::Corrupt`] for a file that is not a token file.
    pub fn read(&self) -> Result<Option<StoredSession>, TokenFileError> {
        check_private(&self.folder(), 0o700)?;
        check_private(&self.path, 0o600)?;
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", &self.path)(e)),
        };
        let s: StoredSession = serde_json::from_slice(&bytes).map_err(|e| {
            TokenFileError::Corrupt { path: self.path.display().to_string(), reason: e.to_string() }
        })?;
        if s.version != 1 {
            return Err(TokenFileError::Corrupt {
                path: self.path.display().to_string(),
                reason: format!("unknown format version {}", s.version),
            });
        }
        Ok(Some(s))
    }

    /// Writes `session` atomically: readers see the old file or the new one, never a torn one.
    ///
    /// # Errors
    /// [`TokenFileError`] on a non-private folder or I/O failure (the old file is then intact).
    pub fn write(&self, session: &StoredSession) -> Result<(), TokenFileError> {
        let folder = self.ensure_folder()?;
        let name = self
            .path
            .file_name()
            .map_or_else(|| "session.json".into(), |n| n.to_string_lossy().into_owned());
        let tmp = folder.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let json = serde_json::to_vec_pretty(session).map_err(|e| TokenFileError::Corrupt {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        let result = (|| {
            let mut f = private_file_options()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(io("create", &tmp))?;
            f.write_all(&json).map_err(io("write", &tmp))?;
            f.sync_all().map_err(io("sync", &tmp))?;
            drop(f);
            fs::rename(&tmp, &self.path).map_err(io("replace", &self.path))?;
            // Make the rename itself durable.
            if let Ok(d) = File::open(&folder) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Deletes the file; returns whether there was one (seed 001 `destroy`).
    ///
    /// # Errors
    /// [`TokenFileError::Io`] when it exists but cannot be removed.
    pub fn destroy(&self) -> Result<bool, TokenFileError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io("delete", &self.path)(e)),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn sample(n: u32) -> StoredSession {
        StoredSession {
            version: 1,
            url: "http://127.0.0.1:3567".into(),
            session_handle: format!("h{n}"),
            user_id: "u".into(),
            access_token: format!("access-{n}"),
            access_token_expiry: 1,
            refresh_token: format!("refresh-{n}"),
            anti_csrf_token: None,
        }
    }

    #[test]
    fn write_read_destroy_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let tf = TokenFile::new(dir.path().join("nested/sessiond/session.json"));
        assert!(tf.read().unwrap().is_none());
        tf.write(&sample(1)).unwrap();
        assert_eq!(tf.read().unwrap(), Some(sample(1)));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(tf.path()), 0o600);
        assert_eq!(mode(tf.path().parent().unwrap()), 0o700);
        tf.write(&sample(2)).unwrap();
        assert_eq!(tf.read().unwrap(), Some(sample(2)));
        assert!(tf.destroy().unwrap());
        assert!(!tf.destroy().unwrap());
        assert!(tf.read().unwrap().is_none());
        let leftovers: Vec<_> = fs::read_dir(tf.path().parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn files_and_folders_others_can_read_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tf = TokenFile::new(dir.path().join("s/session.json"));
        tf.write(&sample(1)).unwrap();
        fs::set_permissions(tf.path(), fs::Permissions::from_mode(0o644)).unwrap();
        let e = tf.read().unwrap_err();
        assert!(matches!(e, TokenFileError::NotPrivate { .. }), "{e}");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        fs::set_permissions(tf.path(), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(tf.path().parent().unwrap(), fs::Permissions::from_mode(0o755))
            .unwrap();
        assert!(matches!(tf.read(), Err(TokenFileError::NotPrivate { .. })));
        assert!(matches!(tf.write(&sample(2)), Err(TokenFileError::NotPrivate { .. })));
    }

    #[test]
    fn garbage_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let tf = TokenFile::new(dir.path().join("private/session.json"));
        tf.ensure_folder().unwrap();
        let mut o = private_file_options();
        o.write(true).create(true);
        o.open(tf.path()).unwrap().write_all(b"{not json").unwrap();
        let r = tf.read();
        assert!(matches!(r, Err(TokenFileError::Corrupt { .. })), "{r:?}");
    }

    #[test]
    fn debug_hides_tokens() {
        let d = format!("{:?}", sample(7));
        assert!(!d.contains("access-7") && !d.contains("refresh-7"));
    }
}
