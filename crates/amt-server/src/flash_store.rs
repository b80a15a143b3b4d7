//! The flash image on disk: one file, replaced atomically.
//!
//! A write goes to a temporary file in the same directory, is fsynced,
//! renamed over `flash.img`, and the directory is fsynced. A kill at any
//! moment leaves either the old image or the new one. Stray temporary files
//! from a killed write are swept when the store opens.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Name of the image inside the state directory.
pub const IMAGE_FILE: &str = "flash.img";
const TEMP_PREFIX: &str = ".flash.img.tmp";

#[derive(Debug, Error)]
pub enum FlashStoreError {
    #[error("cannot create state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read flash image {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write flash image {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("flash image {path} is unusable: {source}")]
    Corrupt {
        path: PathBuf,
        source: amt_device::DeviceError,
    },
}

/// A state directory holding one device's flash image.
#[derive(Debug, Clone)]
pub struct FlashStore {
    dir: PathBuf,
}

impl FlashStore {
    /// Opens (creating if needed) a state directory and sweeps temporary
    /// files left by an interrupted write.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, FlashStoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| FlashStoreError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(FlashStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the image file.
    pub fn image_path(&self) -> PathBuf {
        self.dir.join(IMAGE_FILE)
    }

    /// The stored image, or `None` when the device was never written.
    pub fn read(&self) -> Result<Option<Vec<u8>>, FlashStoreError> {
        let path = self.image_path();
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(FlashStoreError::Read { path, source }),
        }
    }

    /// Replaces the image atomically and durably.
    pub fn write(&self, image: &[u8]) -> Result<(), FlashStoreError> {
        let path = self.image_path();
        let err = |source| FlashStoreError::Write {
            path: path.clone(),
            source,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(err)?;
        tmp.write_all(image).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        self.before_rename_hook();
        tmp.persist(&path).map_err(|e| err(e.error))?;
        // The rename is durable only once the directory entry is on disk.
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
        Ok(())
    }

    /// Test hook: a crash between the temporary write and the rename.
    #[cfg(test)]
    fn before_rename_hook(&self) {
        if self.dir.join("crash-before-rename").exists() {
            panic!("simulated crash before rename");
        }
    }

    #[cfg(not(test))]
    fn before_rename_hook(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = FlashStore::open(dir.path()).unwrap();
        assert!(store.read().unwrap().is_none());
        store.write(b"one").unwrap();
        store.write(b"two").unwrap();
        assert_eq!(store.read().unwrap().unwrap(), b"two");
    }

    #[test]
    fn crash_between_write_and_rename_keeps_the_old_image() {
        let dir = tempfile::tempdir().unwrap();
        let store = FlashStore::open(dir.path()).unwrap();
        store.write(b"old image").unwrap();
        fs::write(dir.path().join("crash-before-rename"), b"").unwrap();
        let s2 = store.clone();
        let crashed = std::panic::catch_unwind(move || s2.write(b"new image that never lands"));
        assert!(crashed.is_err());
        // A crash leaves the temporary file behind only if the process dies;
        // simulate that by leaving one, then reopen as after a restart.
        fs::write(dir.path().join(format!("{TEMP_PREFIX}XYZ")), b"torn").unwrap();
        fs::remove_file(dir.path().join("crash-before-rename")).unwrap();
        let reopened = FlashStore::open(dir.path()).unwrap();
        assert_eq!(reopened.read().unwrap().unwrap(), b"old image");
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty(), "temporary files are swept at open");
    }
}
