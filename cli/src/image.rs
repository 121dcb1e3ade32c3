//! `pipec build --image`: writes a container image archive for a server binary directly,
//! without a Docker daemon.
//!
//! This module owns the archive's format and nothing else: the caller builds the (statically
//! linked) server binary, chooses the repository, tag, port, user, environment and labels, and
//! prints the [`ImageSummary`]. The image is `FROM scratch` plus one gzip layer holding
//! `/server` (mode 0755, owned by 0:0), `/tmp` (mode 1777) and a minimal `/etc/passwd` and
//! `/etc/group` naming the `nonroot` user 65532 (home `/home/nonroot`), so that tools show a
//! name.
//!
//! The one archive is two formats at once, as Docker 25's `docker save` writes:
//! - an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>` holding the layer,
//!   the config and the manifest once each), for containerd, skopeo, podman and registries;
//! - a docker-archive `manifest.json` (`[{Config, RepoTags, Layers}]`) pointing at those same
//!   blobs, which older engines such as Docker 20.10 need for `docker load`.
//!
//! Same inputs give the same bytes: entries are sorted, every mtime is `created` (or the
//! epoch), owners are 0:0, and the gzip header has no name and no timestamp. The archive is
//! written to `OUT.partial` and renamed into place at the end, so an error leaves no archive
//! behind. Nothing is printed.

use anyhow::{Context, Result, bail, ensure};
use flate2::{Compression, GzBuilder};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const EPOCH: &str = "1970-01-01T00:00:00Z";

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnonroot:x:65532:\n";

/// What goes into the image.
#[derive(Debug, Clone)]
pub struct ImageSpec<'a> {
    /// The server executable, copied to `/server` (mode 0755, uid/gid 0). It must be a
    /// statically linked x86-64 ELF file: a scratch image has no dynamic loader.
    pub binary: &'a Path,
    /// The image's repository, e.g. `pipec/titanic` (Docker's reference grammar: lowercase
    /// path components, optionally behind a registry host).
    pub repository: String,
    /// The tag, e.g. `1.0.0`.
    pub tag: String,
    /// The exposed TCP port, also the `PORT` environment variable.
    pub port: u16,
    /// The user the server runs as, numeric, e.g. `65532:65532`.
    pub user: String,
    /// Extra environment after `PATH=/` and `PORT=<port>`, in order.
    pub env: Vec<(String, String)>,
    /// Image labels; a later duplicate key wins.
    pub labels: Vec<(String, String)>,
    /// RFC 3339 creation time; `None` is the epoch, `1970-01-01T00:00:00Z`, for
    /// reproducible builds. Also every file's mtime.
    pub created: Option<String>,
}

/// What was written, for the caller to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// `sha256:<hex>` of the config: the image ID Docker shows.
    pub image_id: String,
    /// `sha256:<hex>` of the OCI manifest: the digest a registry reports after a push.
    pub manifest_digest: String,
    pub layer_compressed_bytes: u64,
    pub layer_uncompressed_bytes: u64,
    /// The size of the archive file.
    pub archive_bytes: u64,
}

/// Writes the image archive for `spec` to `out` (through `out.partial`, renamed at the end).
pub fn write_image(spec: &ImageSpec, out: &Path) -> Result<ImageSummary> {
    check_reference(&spec.repository, &spec.tag)?;
    ensure!(!spec.user.is_empty(), "the image user is empty");
    let created = spec.created.clone().unwrap_or_else(|| EPOCH.to_string());
    let mtime = rfc3339_seconds(&created)
        .with_context(|| format!("the image creation time `{created}` is not an RFC 3339 time"))?
        .max(0) as u64;
    check_static_executable(spec.binary)?;

    let layer = build_layer(spec.binary, mtime)?;
    let config = serde_json::to_vec(&config_json(spec, &created, &layer.diff_id))?;
    let config_digest = sha256_hex(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": { "mediaType": CONFIG_MEDIA_TYPE, "digest": format!("sha256:{config_digest}"), "size": config.len() },
        "layers": [{ "mediaType": LAYER_MEDIA_TYPE, "digest": format!("sha256:{}", layer.digest), "size": layer.bytes.len() }],
    }))?;
    let manifest_digest = sha256_hex(&manifest);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [{
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": format!("sha256:{manifest_digest}"),
            "size": manifest.len(),
            "annotations": {
                "io.containerd.image.name": containerd_name(&spec.repository, &spec.tag),
                "org.opencontainers.image.ref.name": spec.tag,
            },
            "platform": { "architecture": "amd64", "os": "linux" },
        }],
    }))?;
    let docker_manifest = serde_json::to_vec(&json!([{
        "Config": format!("blobs/sha256/{config_digest}"),
        "RepoTags": [format!("{}:{}", spec.repository, spec.tag)],
        "Layers": [format!("blobs/sha256/{}", layer.digest)],
    }]))?;

    let mut blobs = [
        (layer.digest.as_str(), layer.bytes.as_slice()),
        (config_digest.as_str(), config.as_slice()),
        (manifest_digest.as_str(), manifest.as_slice()),
    ];
    blobs.sort();
    let files = [
        ("index.json", index.as_slice()),
        ("manifest.json", docker_manifest.as_slice()),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.as_slice()),
    ];

    let partial = Partial::create(out)?;
    let cannot_write = || format!("cannot write `{}`", partial.path.display());
    let mut archive = tar::Builder::new(BufWriter::new(&partial.file));
    archive_entries(&mut archive, &blobs, &files, mtime).with_context(cannot_write)?;
    let buffered = archive.into_inner().with_context(cannot_write)?;
    buffered.into_inner().map_err(|e| e.into_error()).with_context(cannot_write)?;
    let archive_bytes = partial.commit(out)?;

    Ok(ImageSummary {
        image_id: format!("sha256:{config_digest}"),
        manifest_digest: format!("sha256:{manifest_digest}"),
        layer_compressed_bytes: layer.bytes.len() as u64,
        layer_uncompressed_bytes: layer.uncompressed_bytes,
        archive_bytes,
    })
}

/// The archive, in sorted order: `blobs/`, `blobs/sha256/`, the blobs by digest, then the
/// `files` (`index.json`, `manifest.json`, `oci-layout`).
fn archive_entries<W: Write>(
    archive: &mut tar::Builder<W>,
    blobs: &[(&str, &[u8])],
    files: &[(&str, &[u8])],
    mtime: u64,
) -> io::Result<()> {
    append_dir(archive, "blobs/", 0o755, 0, mtime)?;
    append_dir(archive, "blobs/sha256/", 0o755, 0, mtime)?;
    for (hex, bytes) in blobs {
        append_file(archive, &format!("blobs/sha256/{hex}"), 0o644, mtime, bytes.len() as u64, *bytes)?;
    }
    for (name, bytes) in files {
        append_file(archive, name, 0o644, mtime, bytes.len() as u64, *bytes)?;
    }
    archive.finish()
}

/// The image config: what `docker image inspect` shows and the runtime obeys.
fn config_json(spec: &ImageSpec, created: &str, diff_id: &str) -> Value {
    let mut env = vec![Value::from("PATH=/"), Value::from(format!("PORT={}", spec.port))];
    env.extend(spec.env.iter().map(|(name, value)| Value::from(format!("{name}={value}"))));
    let labels: Map<String, Value> = spec.labels.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
    let mut ports = Map::new();
    ports.insert(format!("{}/tcp", spec.port), json!({}));
    json!({
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": spec.user,
            "Env": env,
            "Entrypoint": ["/server"],
            "ExposedPorts": ports,
            "Labels": labels,
            "WorkingDir": "/",
            "StopSignal": "SIGTERM",
        },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{diff_id}")] },
        "history": [{ "created": created, "created_by": "pipec build --image", "comment": "the pipec server binary" }],
    })
}

struct Layer {
    /// The gzip-compressed tar.
    bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    digest: String,
    /// Hex SHA-256 of the uncompressed tar (the config's diff_id).
    diff_id: String,
    uncompressed_bytes: u64,
}

/// The one layer, in sorted order: `etc/`, `etc/group`, `etc/passwd`, `home/`, `home/nonroot/`
/// (0700, owned by 65532: `nonroot`'s home, which Docker sets as `HOME`), `server`, `tmp/`.
fn build_layer(binary: &Path, mtime: u64) -> Result<Layer> {
    let mut file =
        File::open(binary).with_context(|| format!("cannot open the server binary `{}`", binary.display()))?;
    let size = file.metadata().with_context(|| format!("cannot read `{}`", binary.display()))?.len();
    let gzip = GzBuilder::new().write(Hashing::new(Vec::new()), Compression::default());
    let mut tar = tar::Builder::new(Hashing::new(gzip));
    layer_entries(&mut tar, &mut file, size, mtime)
        .with_context(|| format!("cannot pack the server binary `{}`", binary.display()))?;
    let uncompressed = tar.into_inner()?;
    let (uncompressed_bytes, diff_id) = (uncompressed.count, hex(uncompressed.hasher.finalize()));
    let compressed = uncompressed.inner.finish()?;
    Ok(Layer { digest: hex(compressed.hasher.finalize()), bytes: compressed.inner, diff_id, uncompressed_bytes })
}

fn layer_entries<W: Write>(tar: &mut tar::Builder<W>, binary: &mut File, size: u64, mtime: u64) -> io::Result<()> {
    append_dir(tar, "etc/", 0o755, 0, mtime)?;
    append_file(tar, "etc/group", 0o644, mtime, GROUP.len() as u64, GROUP.as_bytes())?;
    append_file(tar, "etc/passwd", 0o644, mtime, PASSWD.len() as u64, PASSWD.as_bytes())?;
    append_dir(tar, "home/", 0o755, 0, mtime)?;
    append_dir(tar, "home/nonroot/", 0o700, 65532, mtime)?;
    append_file(tar, "server", 0o755, mtime, size, binary.take(size))?;
    append_dir(tar, "tmp/", 0o1777, 0, mtime)?;
    tar.finish()
}

fn header(kind: tar::EntryType, mode: u32, owner: u64, mtime: u64, size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(owner);
    header.set_gid(owner);
    header.set_mtime(mtime);
    header.set_size(size);
    header
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str, mode: u32, owner: u64, mtime: u64) -> io::Result<()> {
    tar.append_data(&mut header(tar::EntryType::Directory, mode, owner, mtime, 0), path, io::empty())
}

/// Appends a regular file; fails if `data` does not hold exactly `size` bytes (a file that
/// changed while being read), since tar would otherwise pad or truncate silently.
fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    mode: u32,
    mtime: u64,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut counted = Counted { inner: data, count: 0 };
    tar.append_data(&mut header(tar::EntryType::Regular, mode, 0, mtime, size), path, &mut counted)?;
    if counted.count != size {
        return Err(io::Error::other(format!("`{path}`: expected {size} bytes, read {}", counted.count)));
    }
    Ok(())
}

struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing { inner, hasher: Sha256::new(), count: 0 }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: impl AsRef<[u8]>) -> String {
    bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(Sha256::digest(bytes))
}

/// The archive being written, `OUT.partial`; removed when dropped unless committed.
struct Partial {
    path: PathBuf,
    file: File,
    committed: bool,
}

impl Partial {
    fn create(out: &Path) -> Result<Partial> {
        let name = out.file_name().with_context(|| format!("`{}` does not name a file", out.display()))?;
        let mut partial_name = name.to_os_string();
        partial_name.push(".partial");
        let path = out.with_file_name(partial_name);
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let file = File::create(&path).with_context(|| format!("cannot create `{}`", path.display()))?;
        Ok(Partial { path, file, committed: false })
    }

    /// Flushes the file to disk, renames it to `out` and returns its size.
    fn commit(mut self, out: &Path) -> Result<u64> {
        self.file.sync_all().with_context(|| format!("cannot write `{}`", self.path.display()))?;
        let bytes = self.file.metadata()?.len();
        std::fs::rename(&self.path, out)
            .with_context(|| format!("cannot rename `{}` to `{}`", self.path.display(), out.display()))?;
        self.committed = true;
        Ok(bytes)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Refuses what a scratch amd64 image cannot run: anything but a 64-bit little-endian x86-64
/// ELF executable without a program interpreter (a dynamically linked binary fails in the
/// container with a bare "no such file or directory"). Static PIE binaries have none.
fn check_static_executable(binary: &Path) -> Result<()> {
    let what = || format!("the server binary `{}`", binary.display());
    let mut file = File::open(binary).with_context(|| format!("cannot open {}", what()))?;
    ensure!(file.metadata()?.is_file(), "{} is not a file", what());
    let mut elf = [0u8; 64];
    file.read_exact(&mut elf)
        .ok()
        .filter(|_| elf[..4] == *b"\x7fELF")
        .with_context(|| format!("{} is not an ELF executable", what()))?;
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]);
    ensure!(
        elf[4] == 2 && elf[5] == 1 && u16_at(18) == 62,
        "{} is not an x86-64 executable, the image's architecture (amd64)",
        what()
    );
    let phoff = u64::from_le_bytes(elf[32..40].try_into().unwrap());
    let (phentsize, phnum) = (u16_at(54) as usize, u16_at(56) as usize);
    ensure!(phentsize >= 4 || phnum == 0, "{} has a malformed ELF header", what());
    let mut headers = vec![0u8; phentsize * phnum];
    file.seek(SeekFrom::Start(phoff))?;
    file.read_exact(&mut headers).with_context(|| format!("{} has a truncated ELF header", what()))?;
    const PT_INTERP: u32 = 3;
    if headers.chunks(phentsize.max(1)).any(|h| u32::from_le_bytes(h[..4].try_into().unwrap()) == PT_INTERP) {
        bail!(
            "{} is dynamically linked; a scratch image has no dynamic loader or libc, so the server must be \
             linked statically (e.g. `-C target-feature=+crt-static`)",
            what()
        );
    }
    Ok(())
}

/// Refuses names `docker load` would reject, before writing anything: the tag is
/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, the repository lowercase `[a-z0-9]` path components
/// separated by `.`, `_`, `__` or dashes, optionally behind a registry `host[:port]/`.
fn check_reference(repository: &str, tag: &str) -> Result<()> {
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ensure!(
        tag_ok,
        "`{tag}` is not a valid image tag (letters, digits, `_`, `.`, `-`; at most 128; not starting with `.` or `-`)"
    );
    let (domain, path) = split_domain(repository);
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
        !b.is_empty()
            && alnum(&b[0])
            && alnum(&b[b.len() - 1])
            && b.iter().all(|x| alnum(x) || matches!(x, b'.' | b'_' | b'-'))
            && !c.contains("..")
            && !c.contains("___")
            && !c.contains("._")
            && !c.contains("_.")
            && !c.contains(".-")
            && !c.contains("-.")
            && !c.contains("_-")
            && !c.contains("-_")
    };
    let domain_ok = domain.is_none_or(|d| {
        !d.is_empty() && d.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
    });
    ensure!(
        domain_ok && !path.is_empty() && path.split('/').all(component_ok) && repository.len() + tag.len() < 256,
        "`{repository}` is not a valid image repository (lowercase letters and digits, separated by `.`, `_`, `__` \
         or `-`, in `/`-separated components)"
    );
    Ok(())
}

/// `(Some(registry), path)` when the first component names a registry host, as Docker decides.
fn split_domain(repository: &str) -> (Option<&str>, &str) {
    match repository.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, repository),
    }
}

/// The fully qualified name containerd and Docker 25 record in `io.containerd.image.name`:
/// `pipec/titanic` is `docker.io/pipec/titanic`, `titanic` is `docker.io/library/titanic`.
fn containerd_name(repository: &str, tag: &str) -> String {
    let full = match split_domain(repository) {
        (Some(_), _) => repository.to_string(),
        (None, path) if path.contains('/') => format!("docker.io/{path}"),
        (None, path) => format!("docker.io/library/{path}"),
    };
    format!("{full}:{tag}")
}

/// Seconds since the Unix epoch of an RFC 3339 time `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`
/// (fractions dropped), or `None` if it is not one.
fn rfc3339_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + (d - b'0') as i64))
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[month as usize - 1]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = 19;
    if b[rest] == b'.' {
        rest += 1;
        let start = rest;
        while rest < b.len() && b[rest].is_ascii_digit() {
            rest += 1;
        }
        if rest == start {
            return None;
        }
    }
    let offset = match &b[rest..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (digits(rest + 1..rest + 3)?, digits(rest + 4..rest + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' { h * 3600 + m * 60 } else { -(h * 3600 + m * 60) }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::collections::BTreeMap;

    /// A fresh directory under the system temp directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let dir = std::env::temp_dir().join(format!("pipec-image-{name}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A minimal static x86-64 ELF file: the 64-byte header, one PT_LOAD program header
    /// (or PT_INTERP when `dynamic`), then `padding` bytes.
    fn fake_elf(path: &Path, dynamic: bool, padding: usize) {
        let mut elf = vec![0u8; 64 + 56];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2; // 64-bit
        elf[5] = 1; // little-endian
        elf[6] = 1;
        elf[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        elf[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        elf[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        elf[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        elf[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        elf[64..68].copy_from_slice(&(if dynamic { 3u32 } else { 1u32 }).to_le_bytes());
        elf.extend((0..padding).map(|i| (i * 7 % 251) as u8));
        std::fs::write(path, elf).unwrap();
    }

    fn spec(binary: &Path) -> ImageSpec<'_> {
        ImageSpec {
            binary,
            repository: "pipec/titanic".into(),
            tag: "1.0.0".into(),
            port: 8080,
            user: "65532:65532".into(),
            env: vec![("PIPEC_HOST".into(), "0.0.0.0".into())],
            labels: vec![
                ("org.opencontainers.image.version".into(), "1.0.0".into()),
                ("dev.pipec.identity".into(), "abc123".into()),
            ],
            created: None,
        }
    }

    /// Every entry of a tar: path to (mode, uid, gid, mtime, bytes).
    fn entries(tar_bytes: &[u8]) -> BTreeMap<String, (u32, u64, u64, u64, Vec<u8>)> {
        let mut archive = tar::Archive::new(tar_bytes);
        let mut all = BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let h = entry.header();
            let meta = (h.mode().unwrap(), h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap());
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            assert!(all.insert(path.clone(), (meta.0, meta.1, meta.2, meta.3, bytes)).is_none(), "{path} twice");
        }
        all
    }

    fn json_of(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn the_archive_is_a_consistent_oci_layout_and_docker_archive() {
        let dir = TempDir::new("consistent");
        let binary = dir.0.join("server-bin");
        fake_elf(&binary, false, 300_000);
        let out = dir.0.join("image.tar");
        let summary = write_image(&spec(&binary), &out).unwrap();
        let archive_bytes = std::fs::read(&out).unwrap();
        assert_eq!(summary.archive_bytes, archive_bytes.len() as u64);
        assert!(!dir.0.join("image.tar.partial").exists());
        let files = entries(&archive_bytes);
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(names.iter().filter(|n| n.starts_with("blobs/sha256/") && n.len() > 13).count(), 3, "{names:?}");
        for name in ["blobs/", "blobs/sha256/", "index.json", "manifest.json", "oci-layout"] {
            assert!(files.contains_key(name), "{name} missing: {names:?}");
        }
        // Every blob is named by its own digest.
        for (name, (mode, uid, gid, mtime, bytes)) in &files {
            if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
                assert_eq!(sha256_hex(bytes), hex, "{name}");
            }
            assert_eq!((*uid, *gid, *mtime), (0, 0, 0), "{name}");
            assert_eq!(*mode, if name.ends_with('/') { 0o755 } else { 0o644 }, "{name}");
        }
        let blob = |digest: &Value| -> &Vec<u8> {
            let hex = digest.as_str().unwrap().strip_prefix("sha256:").expect("a sha256 digest");
            &files.get(&format!("blobs/sha256/{hex}")).unwrap_or_else(|| panic!("blob {hex} missing")).4
        };
        assert_eq!(json_of(&files["oci-layout"].4), json!({ "imageLayoutVersion": "1.0.0" }));

        let index = json_of(&files["index.json"].4);
        assert_eq!(index["schemaVersion"], 2);
        assert_eq!(index["mediaType"], INDEX_MEDIA_TYPE);
        let descriptor = &index["manifests"][0];
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
        assert_eq!(descriptor["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(descriptor["annotations"]["org.opencontainers.image.ref.name"], "1.0.0");
        assert_eq!(descriptor["annotations"]["io.containerd.image.name"], "docker.io/pipec/titanic:1.0.0");
        let manifest_bytes = blob(&descriptor["digest"]);
        assert_eq!(descriptor["size"], manifest_bytes.len());
        assert_eq!(descriptor["digest"], summary.manifest_digest);

        let manifest = json_of(manifest_bytes);
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(manifest["config"]["digest"], summary.image_id);
        let config_bytes = blob(&manifest["config"]["digest"]);
        assert_eq!(manifest["config"]["size"], config_bytes.len());
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0]["mediaType"], LAYER_MEDIA_TYPE);
        let layer_bytes = blob(&layers[0]["digest"]);
        assert_eq!(layers[0]["size"], layer_bytes.len());
        assert_eq!(summary.layer_compressed_bytes, layer_bytes.len() as u64);

        // The docker-archive manifest points at the same blobs.
        let docker = json_of(&files["manifest.json"].4);
        assert_eq!(docker.as_array().unwrap().len(), 1);
        assert_eq!(docker[0]["RepoTags"], json!(["pipec/titanic:1.0.0"]));
        assert_eq!(docker[0]["Config"], format!("blobs/sha256/{}", summary.image_id.strip_prefix("sha256:").unwrap()));
        assert_eq!(
            docker[0]["Layers"],
            json!([format!("blobs/sha256/{}", &layers[0]["digest"].as_str().unwrap()[7..])])
        );

        // The diff_id is the digest of the decompressed layer.
        let mut layer_tar = Vec::new();
        GzDecoder::new(layer_bytes.as_slice()).read_to_end(&mut layer_tar).unwrap();
        assert_eq!(summary.layer_uncompressed_bytes, layer_tar.len() as u64);
        let config = json_of(config_bytes);
        assert_eq!(
            config["rootfs"],
            json!({ "type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&layer_tar))] })
        );
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["created"], EPOCH);
        assert_eq!(
            config["config"],
            json!({
                "User": "65532:65532",
                "Env": ["PATH=/", "PORT=8080", "PIPEC_HOST=0.0.0.0"],
                "Entrypoint": ["/server"],
                "ExposedPorts": { "8080/tcp": {} },
                "Labels": { "org.opencontainers.image.version": "1.0.0", "dev.pipec.identity": "abc123" },
                "WorkingDir": "/",
                "StopSignal": "SIGTERM",
            })
        );
        assert_eq!(config["history"].as_array().unwrap().len(), 1);

        // The layer: the binary at `server`, 0755 and root's; a sticky world-writable /tmp.
        let layer = entries(&layer_tar);
        assert_eq!(
            layer.keys().collect::<Vec<_>>(),
            ["etc/", "etc/group", "etc/passwd", "home/", "home/nonroot/", "server", "tmp/"]
        );
        assert_eq!((layer["home/nonroot/"].0, layer["home/nonroot/"].1), (0o700, 65532));
        let (mode, uid, gid, _, bytes) = &layer["server"];
        assert_eq!((*mode, *uid, *gid), (0o755, 0, 0));
        assert_eq!(bytes, &std::fs::read(&binary).unwrap());
        assert_eq!(layer["tmp/"].0, 0o1777);
        assert!(String::from_utf8_lossy(&layer["etc/passwd"].4).contains("nonroot:x:65532:65532:"));
        let mut archive = tar::Archive::new(layer_tar.as_slice());
        let kinds: Vec<_> = archive.entries().unwrap().map(|e| e.unwrap().header().entry_type()).collect();
        assert_eq!(kinds[0], tar::EntryType::Directory);
        assert_eq!(kinds[5], tar::EntryType::Regular);
        assert_eq!(kinds[6], tar::EntryType::Directory);
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes() {
        let dir = TempDir::new("deterministic");
        let binary = dir.0.join("server-bin");
        fake_elf(&binary, false, 100_000);
        let (a, b) = (dir.0.join("a.tar"), dir.0.join("b.tar"));
        let first = write_image(&spec(&binary), &a).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let second = write_image(&spec(&binary), &b).unwrap();
        assert_eq!(first, second);
        assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "two writes differ");

        // `created` is the config's time and every mtime; a new tag changes only the index.
        let mut dated = spec(&binary);
        dated.created = Some("2024-02-29T12:30:45.5+01:00".into());
        let c = dir.0.join("c.tar");
        let third = write_image(&dated, &c).unwrap();
        assert_ne!(third.image_id, first.image_id);
        let files = entries(&std::fs::read(&c).unwrap());
        assert!(files.values().all(|f| f.3 == 1_709_206_245), "mtimes are `created`");
        let config = json_of(&files[&format!("blobs/sha256/{}", &third.image_id[7..])].4);
        assert_eq!(config["created"], "2024-02-29T12:30:45.5+01:00");
        let mut tagged = spec(&binary);
        tagged.tag = "1.0.1".into();
        let fourth = write_image(&tagged, &dir.0.join("d.tar")).unwrap();
        assert_eq!(
            (fourth.image_id.as_str(), fourth.manifest_digest.as_str()),
            (first.image_id.as_str(), first.manifest_digest.as_str())
        );
    }

    #[test]
    fn a_missing_binary_is_an_error_and_leaves_nothing_behind() {
        let dir = TempDir::new("missing");
        let out = dir.0.join("image.tar");
        let error = write_image(&spec(&dir.0.join("no-such-server")), &out).unwrap_err();
        assert!(format!("{error:#}").contains("no-such-server"), "{error:#}");
        assert!(!out.exists());
        assert!(!dir.0.join("image.tar.partial").exists());
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
    }

    #[test]
    fn a_failure_midway_keeps_an_existing_archive_and_removes_the_partial_file() {
        let dir = TempDir::new("midway");
        let binary = dir.0.join("server-bin");
        fake_elf(&binary, false, 1000);
        let out = dir.0.join("image.tar");
        write_image(&spec(&binary), &out).unwrap();
        let before = std::fs::read(&out).unwrap();
        // The rename fails: `out` is now a non-empty directory.
        let blocked = dir.0.join("blocked.tar");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        assert!(write_image(&spec(&binary), &blocked).is_err());
        assert!(!dir.0.join("blocked.tar.partial").exists());
        assert_eq!(std::fs::read(&out).unwrap(), before);
    }

    #[test]
    fn binaries_a_scratch_image_cannot_run_are_refused() {
        let dir = TempDir::new("refused");
        let out = dir.0.join("image.tar");
        let dynamic = dir.0.join("dynamic");
        fake_elf(&dynamic, true, 10);
        let error = format!("{:#}", write_image(&spec(&dynamic), &out).unwrap_err());
        assert!(error.contains("dynamically linked"), "{error}");
        let script = dir.0.join("script");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        let error = format!("{:#}", write_image(&spec(&script), &out).unwrap_err());
        assert!(error.contains("not an ELF"), "{error}");
        let error = format!("{:#}", write_image(&spec(&dir.0), &out).unwrap_err());
        assert!(error.contains("not a file") || error.contains("cannot open"), "{error}");
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 2, "only the two inputs remain");
    }

    #[test]
    fn bad_names_and_times_are_refused_before_writing() {
        let dir = TempDir::new("names");
        let binary = dir.0.join("server-bin");
        fake_elf(&binary, false, 10);
        let out = dir.0.join("image.tar");
        for (repository, tag) in
            [("Pipec/Titanic", "1.0.0"), ("pipec/titanic", "1.0.0+build"), ("pipec//x", "1"), ("", "1"), ("a", "")]
        {
            let mut s = spec(&binary);
            (s.repository, s.tag) = (repository.into(), tag.into());
            assert!(write_image(&s, &out).is_err(), "{repository}:{tag} accepted");
        }
        for created in ["2024-02-30T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "yesterday"] {
            let mut s = spec(&binary);
            s.created = Some(created.into());
            assert!(write_image(&s, &out).is_err(), "{created} accepted");
        }
        assert!(!out.exists());
        assert!(check_reference("localhost:5000/pipec/titanic_v2", "v1.0.0-rc.1").is_ok());
        assert!(check_reference("ghcr.io/acme/fraud-model", "latest").is_ok());
        assert_eq!(containerd_name("titanic", "1"), "docker.io/library/titanic:1");
        assert_eq!(containerd_name("ghcr.io/acme/x", "1"), "ghcr.io/acme/x:1");
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(rfc3339_seconds("1969-12-31T23:00:00-01:00"), Some(0));
    }
}
