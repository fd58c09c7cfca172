//! Building an `object_store` from a storage URL (native only).
//!
//! One string configures where a layer lives, for the dev server, ingest and tests alike:
//!
//! | URL | Store | Prefix |
//! |---|---|---|
//! | `file:///abs/dir`, `./rel/dir`, `/abs/dir` | `LocalFileSystem` at `/` | the directory |
//! | `s3://bucket/prefix` | `AmazonS3` from the `AWS_*` environment | `prefix` |
//! | `http(s)://host[:port]/prefix` | `HttpStore` at the origin | `prefix` |
//!
//! S3 settings come from `AmazonS3Builder::from_env()`: `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT`) points at R2 or a local S3 server, `AWS_REGION` (R2 wants `auto`), the
//! credentials, and `AWS_ALLOW_HTTP=true`. An explicit `http://` endpoint implies
//! `AWS_ALLOW_HTTP`, since asking for one is asking for plain HTTP.
//!
//! The local store is rooted at `/` with the directory as prefix (not rooted at the
//! directory) so the directory need not exist yet: ingest builds its output store this way.

use std::path::{Component, PathBuf};
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ClientConfigKey, ObjectStore};
use url::Url;

use crate::{Result, StorageError};

/// Where a storage URL points, before any store is built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// A local directory (absolute, normalised).
    File {
        /// The directory.
        dir: PathBuf,
    },
    /// An S3 (or S3-compatible: R2, local servers) bucket.
    S3 {
        /// The bucket name.
        bucket: String,
        /// Key prefix inside the bucket, without leading or trailing `/`.
        prefix: Path,
    },
    /// A plain HTTP(S) server that supports range requests.
    Http {
        /// `scheme://host[:port]`.
        origin: String,
        /// Path under the origin, without leading or trailing `/`.
        prefix: Path,
    },
}

/// Parses a storage URL (see the module docs) without building anything.
pub fn parse_store_url(url: &str) -> Result<StoreLocation> {
    let invalid = |reason: &str| StorageError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    if !url.contains("://") {
        if url.is_empty() {
            return Err(invalid("empty"));
        }
        let dir = std::path::absolute(url).map_err(|e| invalid(&e.to_string()))?;
        return Ok(StoreLocation::File {
            dir: normalise(dir),
        });
    }
    let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("query strings and fragments are not supported"));
    }
    let prefix = || {
        Path::from_url_path(parsed.path().trim_matches('/')).map_err(|e| invalid(&e.to_string()))
    };
    match parsed.scheme() {
        "file" => {
            let dir = parsed
                .to_file_path()
                .map_err(|()| invalid("not a local absolute path"))?;
            Ok(StoreLocation::File {
                dir: normalise(dir),
            })
        }
        "s3" | "s3a" => {
            let bucket = parsed
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| invalid("missing bucket"))?;
            Ok(StoreLocation::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix()?,
            })
        }
        "http" | "https" => {
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(invalid("missing host"));
            }
            Ok(StoreLocation::Http {
                origin: parsed.origin().ascii_serialization(),
                prefix: prefix()?,
            })
        }
        other => Err(invalid(&format!(
            "unsupported scheme {other:?} (use file, s3 or http(s))"
        ))),
    }
}

/// Builds the store a storage URL points at, and the prefix that layer keys live under.
///
/// Join keys onto the prefix with [`object_path`]. Building does no I/O: a bad bucket or
/// missing credentials show up on the first read.
pub fn store_from_url(url: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let location = parse_store_url(url)?;
    build_store(&location, AmazonS3Builder::from_env()).map_err(|err| match err {
        StorageError::InvalidUrl { reason, .. } => StorageError::InvalidUrl {
            url: url.to_owned(),
            reason,
        },
        other => other,
    })
}

/// Builds the store for `location`, taking S3 settings from `s3` (normally
/// `AmazonS3Builder::from_env()`; tests pass an explicit builder).
pub fn build_store(
    location: &StoreLocation,
    s3: AmazonS3Builder,
) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let failed = |e: object_store::Error| StorageError::InvalidUrl {
        url: format!("{location:?}"),
        reason: e.to_string(),
    };
    match location {
        StoreLocation::File { dir } => {
            let prefix = Path::from_absolute_path(dir).map_err(|e| StorageError::InvalidUrl {
                url: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            Ok((Arc::new(LocalFileSystem::new()), prefix))
        }
        StoreLocation::S3 { bucket, prefix } => {
            let store = s3_builder(s3, bucket).build().map_err(failed)?;
            Ok((Arc::new(store), prefix.clone()))
        }
        StoreLocation::Http { origin, prefix } => {
            let mut builder = HttpBuilder::new().with_url(origin.as_str());
            if origin.starts_with("http://") {
                builder = builder.with_config(ClientConfigKey::AllowHttp, "true");
            }
            Ok((Arc::new(builder.build().map_err(failed)?), prefix.clone()))
        }
    }
}

fn s3_builder(base: AmazonS3Builder, bucket: &str) -> AmazonS3Builder {
    let plain_http = base
        .get_config_value(&AmazonS3ConfigKey::Endpoint)
        .is_some_and(|endpoint| endpoint.starts_with("http://"));
    let builder = base.with_bucket_name(bucket);
    if plain_http {
        builder.with_allow_http(true)
    } else {
        builder
    }
}

/// `prefix/key`, with `key` split on `/`. Each part is escaped rather than interpreted, so a
/// key can never climb out of its prefix with `..`.
pub fn object_path(prefix: &Path, key: &str) -> Path {
    key.split('/')
        .filter(|part| !part.is_empty())
        .fold(prefix.clone(), |path, part| path.join(part))
}

/// Resolves `.` and `..` lexically (`std::path::absolute` keeps them, and `object_store`
/// paths may not contain them). The directory may not exist yet, so no `canonicalize`.
fn normalise(path: PathBuf) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ObjectStoreObject, RangeRead, conformance};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn s3(bucket: &str, prefix: &str) -> StoreLocation {
        StoreLocation::S3 {
            bucket: bucket.to_owned(),
            prefix: Path::from(prefix),
        }
    }

    #[test]
    fn parses_s3_urls() -> TestResult {
        assert_eq!(
            parse_store_url("s3://tiles/layers/dem")?,
            s3("tiles", "layers/dem")
        );
        assert_eq!(
            parse_store_url("s3://tiles/layers/dem/")?,
            s3("tiles", "layers/dem")
        );
        assert_eq!(parse_store_url("s3://tiles")?, s3("tiles", ""));
        assert_eq!(parse_store_url("s3a://tiles/")?, s3("tiles", ""));
        assert_eq!(parse_store_url("s3://tiles/a%20b")?, s3("tiles", "a b"));
        Ok(())
    }

    #[test]
    fn parses_http_urls() -> TestResult {
        let http = |origin: &str, prefix: &str| StoreLocation::Http {
            origin: origin.to_owned(),
            prefix: Path::from(prefix),
        };
        assert_eq!(
            parse_store_url("https://example.com/data/v1/")?,
            http("https://example.com", "data/v1")
        );
        assert_eq!(
            parse_store_url("http://127.0.0.1:8080")?,
            http("http://127.0.0.1:8080", "")
        );
        Ok(())
    }

    #[test]
    fn parses_file_urls_and_paths() -> TestResult {
        let file = |dir: &str| StoreLocation::File {
            dir: PathBuf::from(dir),
        };
        assert_eq!(parse_store_url("file:///srv/tiles")?, file("/srv/tiles"));
        assert_eq!(
            parse_store_url("file:///srv/a/../tiles/")?,
            file("/srv/tiles")
        );
        assert_eq!(parse_store_url("/srv/./x/../tiles")?, file("/srv/tiles"));
        let cwd = std::env::current_dir()?;
        assert_eq!(
            parse_store_url("out/tiles")?,
            StoreLocation::File {
                dir: cwd.join("out/tiles")
            }
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "",
            "gs://bucket/x",
            "s3:///x",
            "s3://b/x?versionId=1",
            "http://",
            "s3://b/a//c",
        ] {
            assert!(
                matches!(parse_store_url(url), Err(StorageError::InvalidUrl { .. })),
                "{url} should be rejected"
            );
        }
    }

    #[test]
    fn s3_store_builds_for_r2_and_local_endpoints() -> TestResult {
        let local = AmazonS3Builder::new()
            .with_endpoint("http://127.0.0.1:9000")
            .with_region("auto");
        let builder = s3_builder(local, "tiles");
        let allow =
            builder.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp));
        assert_eq!(allow.as_deref(), Some("true"));
        assert_eq!(
            builder
                .get_config_value(&AmazonS3ConfigKey::Bucket)
                .as_deref(),
            Some("tiles")
        );

        let r2 = AmazonS3Builder::new()
            .with_endpoint("https://acct.r2.cloudflarestorage.com")
            .with_region("auto");
        let (store, prefix) = build_store(&s3("tiles", "layers"), r2)?;
        assert_eq!(prefix.as_ref(), "layers");
        assert!(store.to_string().contains("tiles"), "{store}");
        // And through the real entry point, whatever the environment holds.
        let (_, prefix) = store_from_url("s3://tiles/layers/dem")?;
        assert_eq!(prefix.as_ref(), "layers/dem");
        Ok(())
    }

    #[test]
    fn http_store_builds() -> TestResult {
        let (store, prefix) = store_from_url("http://127.0.0.1:8080/data")?;
        assert_eq!(prefix.as_ref(), "data");
        assert_eq!(store.to_string(), "HttpStore");
        Ok(())
    }

    #[test]
    fn keys_cannot_escape_the_prefix() {
        let prefix = Path::from("layers/dem");
        assert_eq!(
            object_path(&prefix, "cog/1/2/3.tif").as_ref(),
            "layers/dem/cog/1/2/3.tif"
        );
        assert_eq!(object_path(&prefix, "/a//b/").as_ref(), "layers/dem/a/b");
        assert!(
            !object_path(&prefix, "../../etc/passwd")
                .as_ref()
                .contains("/../")
        );
        assert_eq!(object_path(&Path::default(), "x.tif").as_ref(), "x.tif");
    }

    #[tokio::test]
    async fn file_url_store_conforms() -> TestResult {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("cog/0/0"))?;
        std::fs::write(dir.path().join("cog/0/0/0.tif"), conformance::pattern())?;
        let url = format!("file://{}", dir.path().display());
        let (store, prefix) = store_from_url(&url)?;
        let object = ObjectStoreObject::new(store, object_path(&prefix, "cog/0/0/0.tif"));
        conformance::run(&object).await?;
        // A relative path to the same directory, via `..`, reaches the same file.
        let (store, prefix) = store_from_url(&format!("{}/cog/../cog", dir.path().display()))?;
        let object = ObjectStoreObject::new(store, object_path(&prefix, "0/0/0.tif"));
        assert_eq!(object.len().await?, conformance::PATTERN_LEN);
        Ok(())
    }
}
