//! Writing files so that a crash never leaves one half-written.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::Error;

/// Writes `content` to `path` (creating its folder): into a temporary file
/// beside it first, then renamed over it, so that `path` holds either the old
/// content or the new, never a part. `executable` sets the execute bits.
pub fn write_atomic(path: &Path, content: &[u8], executable: bool) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(Error::io("create the folder", parent))?;
    }
    let name = path.file_name().map_or_else(
        || String::from("file"),
        |name| name.to_string_lossy().into_owned(),
    );
    let temporary = path.with_file_name(format!(".{name}.skeleton-tmp"));
    fs::write(&temporary, content).map_err(Error::io("write", &temporary))?;
    if executable {
        let mut permissions = fs::metadata(&temporary)
            .map_err(Error::io("read the permissions of", &temporary))?
            .permissions();
        permissions.set_mode(permissions.mode() | 0o111);
        fs::set_permissions(&temporary, permissions)
            .map_err(Error::io("make executable", &temporary))?;
    }
    fs::rename(&temporary, path).map_err(Error::io("replace", path))
}

/// Whether the file at `path` has an execute bit.
pub fn is_executable(path: &Path) -> Result<bool, Error> {
    let metadata = fs::metadata(path).map_err(Error::io("read the permissions of", path))?;
    Ok(metadata.permissions().mode() & 0o111 != 0)
}
