//! `sessiond_client::TokenFile::read`: the CLI's private token file.
//!
//! The bytes are written to `session.json` (mode 0600) in a folder of mode 0700, created once
//! under `$SESSIOND_FUZZ_TMPDIR` (`.ci/fuzz.sh` points it at a scratch folder it removes), else
//! `/dev/shm` when writable (no disk syncs), else the system temp folder. Folders left by earlier
//! runs whose process is gone are removed at start-up.
//!
//! Properties:
//! - `read` never panics, and (the modes being right, the file being there) returns either
//!   `Ok(Some(session))` with `version == 1` or `Err(Corrupt)`; never `NotPrivate`, never `Ok(None)`.
//! - Round trip: a session that reads is written back by `TokenFile::write` (to a second file in
//!   the same folder) and reads back equal.
#![no_main]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sessiond_client::{TokenFile, TokenFileError};

struct Paths {
    input: PathBuf,
    copy: PathBuf,
}

fn scratch_root() -> PathBuf {
    if let Some(d) = std::env::var_os("SESSIOND_FUZZ_TMPDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let shm = PathBuf::from("/dev/shm");
    let writable = fs::metadata(&shm).is_ok_and(|m| m.is_dir() && !m.permissions().readonly());
    if writable { shm } else { std::env::temp_dir() }
}

const PREFIX: &str = "sessiond-fuzz-token-file-";

/// Removes the scratch folders of earlier runs whose process is gone (libFuzzer exits without
/// running destructors, so a run cannot remove its own).
fn remove_stale(root: &std::path::Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|r| r.split('-').next()) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn paths() -> &'static Paths {
    static P: OnceLock<Paths> = OnceLock::new();
    P.get_or_init(|| {
        let root = scratch_root();
        remove_stale(&root);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = root.join(format!("{PREFIX}{}-{nanos}", std::process::id()));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .expect("create the scratch folder");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod 700");
        Paths { input: dir.join("session.json"), copy: dir.join("copy.json") }
    })
}

fuzz_target!(|data: &[u8]| {
    let p = paths();
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&p.input)
            .expect("open the input file");
        f.write_all(data).expect("write the input file");
    }
    let tf = TokenFile::new(&p.input);
    match tf.read() {
        Ok(Some(session)) => {
            assert_eq!(session.version, 1, "read accepted version {}", session.version);
            let copy = TokenFile::new(&p.copy);
            copy.write(&session).expect("write the session back");
            let again = copy.read().expect("read the written session");
            assert_eq!(again.as_ref(), Some(&session), "write/read changed the session");
        }
        Ok(None) => panic!("read returned None for a file that exists"),
        Err(TokenFileError::Corrupt { .. }) => {}
        Err(e) => panic!("unexpected error for a private file: {e:?}"),
    }
});
