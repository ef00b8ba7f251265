//! The demo's users: passwords compared in constant time, and a set of disabled accounts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::RwLock;
use sessiond_core::secret::{ct_eq, sha256};

use crate::args::UserSpec;

struct User {
    password_hash: [u8; 32],
    role: String,
}

/// Who may sign in, and who has been disabled. Cheap to clone.
#[derive(Clone)]
pub struct Users {
    users: Arc<HashMap<String, User>>,
    disabled: Arc<RwLock<HashSet<String>>>,
}

/// Why a sign-in failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInError {
    /// Unknown user or wrong password (not told apart).
    BadCredentials,
    /// The account is disabled.
    Disabled,
}

impl Users {
    /// The users of the `--user` flags.
    pub fn new(specs: &[UserSpec]) -> Self {
        let users = specs
            .iter()
            .map(|u| {
                (
                    u.name.clone(),
                    User { password_hash: sha256(u.password.as_bytes()), role: u.role.clone() },
                )
            })
            .collect();
        Self { users: Arc::new(users), disabled: Arc::default() }
    }

    /// Checks a name and password; returns the user's role.
    ///
    /// # Security
    /// The password's hash is compared in constant time, and an unknown user costs the same
    /// comparison, so timing tells neither the password nor whether the user exists.
    pub fn sign_in(&self, name: &str, password: &str) -> Result<String, SignInError> {
        let given = sha256(password.as_bytes());
        let (expected, role) = match self.users.get(name) {
            Some(u) => (u.password_hash, Some(&u.role)),
            None => (sha256(b"\0no such user\0"), None),
        };
        let matches = ct_eq(&given, &expected);
        match role {
            Some(role) if matches => {
                if self.is_disabled(name) {
                    Err(SignInError::Disabled)
                } else {
                    Ok(role.clone())
                }
            }
            _ => Err(SignInError::BadCredentials),
        }
    }

    /// The role of an enabled user.
    pub fn active_role(&self, name: &str) -> Option<String> {
        let u = self.users.get(name)?;
        (!self.is_disabled(name)).then(|| u.role.clone())
    }

    /// Disables a user; `false` if there is no such user.
    pub fn disable(&self, name: &str) -> bool {
        if !self.users.contains_key(name) {
            return false;
        }
        self.disabled.write().insert(name.to_owned());
        true
    }

    /// Whether the user is disabled.
    pub fn is_disabled(&self, name: &str) -> bool {
        self.disabled.read().contains(name)
    }

    /// Every user name with its role and whether it is disabled, sorted.
    pub fn list(&self) -> Vec<(String, String, bool)> {
        let mut v: Vec<_> = self
            .users
            .iter()
            .map(|(n, u)| (n.clone(), u.role.clone(), self.is_disabled(n)))
            .collect();
        v.sort();
        v
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there is no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}
