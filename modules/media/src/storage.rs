//! Where the bytes live: a local directory or an S3-compatible bucket, through `object_store`.
//! Built on first use, so a misconfigured store fails the requests that need it (with the cause
//! in the log) instead of the whole process.

use std::sync::Arc;
use std::time::Duration;

use crate::settings::{MediaSettings, MediaStorage};
use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::{Method, Signer};
use object_store::{GetResult, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::sync::OnceCell;

/// Bytes buffered before a part is sent. S3 needs parts of at least 5 MiB (but the last); the
/// local store writes them to a staging file as they come.
const PART_SIZE: usize = 5 * 1024 * 1024;

#[derive(Clone)]
enum Backend {
    Local(Arc<LocalFileSystem>),
    S3(Arc<AmazonS3>),
}

impl Backend {
    fn store(&self) -> &dyn ObjectStore {
        match self {
            Backend::Local(store) => store.as_ref(),
            Backend::S3(store) => store.as_ref(),
        }
    }
}

/// How `/media/{key}` answers for an object.
pub enum Delivery {
    /// Stream it from here.
    Stream(GetResult),
    /// Send the client there (a signed URL).
    Redirect(String),
}

#[derive(Clone)]
pub struct Storage {
    settings: MediaSettings,
    backend: Arc<OnceCell<Backend>>,
}

impl Storage {
    pub fn new(settings: &MediaSettings) -> Self {
        Self {
            settings: settings.clone(),
            backend: Arc::new(OnceCell::new()),
        }
    }

    pub fn settings(&self) -> &MediaSettings {
        &self.settings
    }

    async fn backend(&self) -> anyhow::Result<&Backend> {
        self.backend
            .get_or_try_init(|| async {
                match self.settings.storage {
                    MediaStorage::Local => {
                        tokio::fs::create_dir_all(&self.settings.local_dir).await?;
                        let store = LocalFileSystem::new_with_prefix(&self.settings.local_dir)?
                            .with_automatic_cleanup(true);
                        Ok(Backend::Local(Arc::new(store)))
                    }
                    MediaStorage::S3 => {
                        let s3 = &self.settings.s3;
                        let mut builder = AmazonS3Builder::new()
                            .with_bucket_name(s3.bucket.clone().unwrap_or_default())
                            .with_virtual_hosted_style_request(!s3.path_style)
                            .with_allow_http(s3.allow_http);
                        if let Some(endpoint) = &s3.endpoint {
                            builder = builder.with_endpoint(endpoint);
                        }
                        if let Some(region) = &s3.region {
                            builder = builder.with_region(region);
                        }
                        if let Some(key) = &s3.access_key_id {
                            builder = builder.with_access_key_id(key.expose());
                        }
                        if let Some(secret) = &s3.secret_access_key {
                            builder = builder.with_secret_access_key(secret.expose());
                        }
                        Ok(Backend::S3(Arc::new(builder.build()?)))
                    }
                }
            })
            .await
    }

    /// Starts writing `key`. Nothing is visible under the key until [`Upload::finish`]; an
    /// upload dropped or aborted before that leaves nothing behind.
    pub async fn begin(&self, key: &str) -> anyhow::Result<Upload> {
        let store = self.backend().await?.store();
        let upload = store.put_multipart(&Path::from(key)).await?;
        Ok(Upload {
            writer: Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)),
        })
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let store = self.backend().await?.store();
        store
            .put(&Path::from(key), PutPayload::from(Bytes::from(bytes)))
            .await?;
        Ok(())
    }

    pub async fn read(&self, key: &str) -> anyhow::Result<Bytes> {
        let store = self.backend().await?.store();
        Ok(store.get(&Path::from(key)).await?.bytes().await?)
    }

    /// Deletes `key`; one that is already gone is fine.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let store = self.backend().await?.store();
        match store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// The object for a download: its bytes from the local directory, or a signed URL of the
    /// bucket. `None` when the local file is missing.
    pub async fn deliver(&self, key: &str) -> anyhow::Result<Option<Delivery>> {
        match self.backend().await? {
            Backend::Local(store) => match store.get(&Path::from(key)).await {
                Ok(result) => Ok(Some(Delivery::Stream(result))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(err) => Err(err.into()),
            },
            Backend::S3(store) => {
                let ttl = Duration::from_secs(self.settings.signed_url_ttl_seconds.max(1));
                let url = store.signed_url(Method::GET, &Path::from(key), ttl).await?;
                Ok(Some(Delivery::Redirect(url.to_string())))
            }
        }
    }
}

/// An object being written. Dropping it unfinished aborts it in the background, so a client
/// that disconnects mid-upload leaves no staging file or open multipart upload behind.
pub struct Upload {
    writer: Option<WriteMultipart>,
}

impl Upload {
    /// Queues `chunk`, waiting while too many parts are in flight.
    pub async fn write(&mut self, chunk: &[u8]) -> anyhow::Result<()> {
        if let Some(writer) = self.writer.as_mut() {
            writer.wait_for_capacity(2).await?;
            writer.write(chunk);
        }
        Ok(())
    }

    /// Makes the object visible under its key.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        if let Some(writer) = self.writer.take() {
            writer.finish().await?;
        }
        Ok(())
    }

    pub async fn abort(mut self) {
        if let Some(writer) = self.writer.take()
            && let Err(err) = writer.abort().await
        {
            tracing::warn!(error = %err, "could not abort an upload");
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(err) = writer.abort().await {
                    tracing::warn!(error = %err, "could not abort an abandoned upload");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use kernel::config::Secret;

    use crate::settings::{MediaSettings, MediaStorage, S3Settings};

    use super::{Delivery, Storage};

    #[tokio::test]
    async fn s3_storage_redirects_to_a_signed_url_and_keeps_secrets_out_of_logs() {
        let settings = MediaSettings {
            storage: MediaStorage::S3,
            local_dir: String::new(),
            image_max_bytes: 1,
            video_max_bytes: 1,
            thumbnail_width: 320,
            unattached_ttl_hours: 24,
            public_base_url: None,
            signed_url_ttl_seconds: 600,
            s3: S3Settings {
                bucket: Some("gym-media".into()),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("us-east-1".into()),
                access_key_id: Some(Secret::new("AKIDEXAMPLE".into())),
                secret_access_key: Some(Secret::new("very-secret-key".into())),
                path_style: true,
                allow_http: true,
            },
        };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("very-secret-key") && !printed.contains("AKIDEXAMPLE"));
        // Signing needs no network.
        let delivery = Storage::new(&settings)
            .deliver("gym/0123456789abcdef0123456789abcdef.png")
            .await
            .unwrap();
        let Some(Delivery::Redirect(url)) = delivery else {
            panic!("expected a redirect");
        };
        assert!(
            url.starts_with(
                "http://127.0.0.1:9000/gym-media/gym/0123456789abcdef0123456789abcdef.png?"
            ),
            "{url}"
        );
        assert!(
            url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=600"),
            "{url}"
        );
    }
}
