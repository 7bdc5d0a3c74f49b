//! Uploads: the type comes from the bytes, limits hold while the body streams, a failed upload
//! stores nothing, thumbnails come from a job, files are served by key, and uploads never
//! attached are swept.

use kernel::attachments::{Claim, MediaKind};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    IMAGE_LIMIT, MediaApp, Part, error_fields, file, mp4, multipart, png, rows_in, uuid_of,
};

/// A claim as a story of `gym` would make it, by any uploader.
fn claim(gym: Uuid, media_id: Uuid, holder: &str) -> Claim<'_> {
    Claim {
        gym_id: gym,
        media_id,
        holder,
        field: "media_id",
        uploaded_by: None,
    }
}

fn media_path(item: &serde_json::Value) -> String {
    format!("/api/v1/media/{}", item["id"].as_str().expect("media id"))
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_type_comes_from_the_bytes_not_the_name(pool: PgPool) {
    let m = MediaApp::spawn(pool).await;
    let bytes = png(40, 30, None);
    let item = m
        .upload(&m.owner, file("holiday.mp4", "video/mp4", &bytes))
        .expect(201)
        .await;
    assert_eq!(item["content_type"], "image/png");
    assert_eq!(item["width"], 40);
    assert_eq!(item["height"], 30);
    assert_eq!(item["bytes"], bytes.len());
    assert!(item["url"].as_str().unwrap().ends_with(".png"), "{item}");
    assert!(item["thumbnail_url"].is_null());
    assert!(item["attached_at"].is_null());

    // Served by key to anyone, with long-lived caching.
    let served = m.fetch(&item["url"]).send().await;
    assert_eq!(served.status(), 200);
    let header = |name: &str| {
        served
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(
        header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let etag = header("etag");
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
    assert_eq!(served.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let revalidated = m
        .fetch(&item["url"])
        .header("If-None-Match", &etag)
        .send()
        .await;
    assert_eq!(revalidated.status(), 304);

    // And read back through the API.
    let read = m.as_owner().get(&media_path(&item)).expect(200).await;
    assert_eq!(read, item);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn text_called_jpg_is_refused_and_nothing_is_stored(pool: PgPool) {
    let m = MediaApp::spawn(pool.clone()).await;
    let problem = m
        .upload(
            &m.owner,
            file("cat.jpg", "image/jpeg", b"just some text, not a picture\n"),
        )
        .expect_problem(415, "unsupported_media_type")
        .await;
    assert_eq!(error_fields(&problem), ["file"]);
    assert_eq!(rows_in(&pool, "media").await, 0);
    assert!(m.files().is_empty(), "{:?}", m.files());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn the_limit_is_inclusive_and_one_byte_more_stores_nothing(pool: PgPool) {
    let m = MediaApp::spawn(pool.clone()).await;
    let at_limit = png(16, 16, Some(IMAGE_LIMIT));
    let item = m
        .upload(&m.owner, file("a.png", "image/png", &at_limit))
        .expect(201)
        .await;
    assert_eq!(item["bytes"], IMAGE_LIMIT);
    assert_eq!(m.files().len(), 1);

    let over = png(16, 16, Some(IMAGE_LIMIT + 1));
    let problem = m
        .upload(&m.owner, file("b.png", "image/png", &over))
        .expect_problem(413, "payload_too_large")
        .await;
    assert_eq!(error_fields(&problem), ["file"]);
    assert_eq!(
        rows_in(&pool, "media").await,
        1,
        "no row for the refused upload"
    );
    assert_eq!(m.files().len(), 1, "no object either: {:?}", m.files());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn videos_are_accepted_without_dimensions_or_thumbnails(pool: PgPool) {
    let m = MediaApp::spawn(pool).await;
    let item = m
        .upload(
            &m.owner,
            file("clip.bin", "application/octet-stream", &mp4()),
        )
        .expect(201)
        .await;
    assert_eq!(item["content_type"], "video/mp4");
    assert!(item["width"].is_null() && item["height"].is_null());
    assert!(item["url"].as_str().unwrap().ends_with(".mp4"));
    m.app.jobs.drain().await.unwrap();
    let read = m.as_owner().get(&media_path(&item)).expect(200).await;
    assert!(read["thumbnail_url"].is_null());
    let served = m.fetch(&item["url"]).send().await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "video/mp4");
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn concurrent_uploads_all_land_under_their_own_keys(pool: PgPool) {
    let m = MediaApp::spawn(pool.clone()).await;
    let uploads = (0..8).map(|i| {
        let m = &m;
        async move {
            let bytes = png(10 + i, 10, None);
            m.upload(&m.owner, file("x.png", "image/png", &bytes))
                .expect(201)
                .await
        }
    });
    let items = futures_util::future::join_all(uploads).await;
    let mut ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    let mut urls: Vec<&str> = items.iter().map(|i| i["url"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    urls.sort();
    urls.dedup();
    assert_eq!((ids.len(), urls.len()), (8, 8));
    assert_eq!(rows_in(&pool, "media").await, 8);
    assert_eq!(m.files().len(), 8);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn a_job_makes_the_thumbnail(pool: PgPool) {
    let m = MediaApp::spawn(pool).await;
    let item = m
        .upload(
            &m.owner,
            file("wide.png", "image/png", &png(800, 400, None)),
        )
        .expect(201)
        .await;
    m.app.jobs.drain().await.unwrap();
    let read = m.as_owner().get(&media_path(&item)).expect(200).await;
    let thumbnail_url = &read["thumbnail_url"];
    assert!(
        thumbnail_url
            .as_str()
            .is_some_and(|u| u.ends_with("_thumb.png")),
        "{read}"
    );
    let served = m.fetch(thumbnail_url).send().await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    let thumbnail = image::load_from_memory(&served.bytes().await.unwrap()).unwrap();
    assert_eq!((thumbnail.width(), thumbnail.height()), (320, 160));

    // Running again changes nothing.
    let outcomes = m.app.jobs.drain().await.unwrap();
    assert!(outcomes.is_empty(), "{outcomes:?}");
    assert_eq!(m.files().len(), 2);
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn tenants_and_roles_decide_who_reads_and_deletes(pool: PgPool) {
    let m = MediaApp::spawn(pool.clone()).await;
    let member = m
        .app
        .add_new_member(&m.owner, m.gym, "member", "member")
        .await;
    let other_member = m
        .app
        .add_new_member(&m.owner, m.gym, "other", "member")
        .await;
    let item = m.upload_png(&member).await;
    let path = media_path(&item);

    // Another tenant cannot see it.
    let (stranger, their_gym) = m.app.owner_with_tenant("stranger").await;
    let as_stranger = m.app.as_(&stranger).in_(their_gym);
    as_stranger
        .get(&path)
        .expect_problem(404, "not_found")
        .await;

    // A member who did not upload it cannot delete it; the uploader can.
    m.app
        .as_(&other_member)
        .in_(m.gym)
        .delete(&path)
        .expect_problem(403, "not_uploader")
        .await;
    as_stranger
        .delete(&path)
        .expect_problem(404, "not_found")
        .await;
    assert_eq!(m.files().len(), 1);
    m.app
        .as_(&member)
        .in_(m.gym)
        .delete(&path)
        .expect(204)
        .await;
    assert!(m.files().is_empty(), "{:?}", m.files());
    assert_eq!(rows_in(&pool, "media").await, 0);
    m.fetch(&item["url"]).expect_problem(404, "not_found").await;
    m.app
        .as_(&member)
        .in_(m.gym)
        .get(&path)
        .expect_problem(404, "not_found")
        .await;

    // The owner may delete anyone's upload.
    let second = m.upload_png(&member).await;
    m.as_owner().delete(&media_path(&second)).expect(204).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn uploads_never_attached_are_swept_after_a_day(pool: PgPool) {
    let m = MediaApp::spawn(pool.clone()).await;
    let orphan = uuid_of(&m.upload_png(&m.owner).await["id"]);
    let attached = uuid_of(&m.upload_png(&m.owner).await["id"]);
    let recent = uuid_of(&m.upload_png(&m.owner).await["id"]);
    // Thumbnails first, so the sweep has them to remove too.
    m.app.jobs.drain().await.unwrap();
    assert_eq!(m.files().len(), 6);

    // A story claims one, as any module would: through the kernel's attachments port.
    let ctx = &m.app.ctx;
    let attachments = ctx.attachments().unwrap();
    let mut tx = kernel::db::begin_tenant(&pool, m.gym).await.unwrap();
    attachments
        .claim(ctx, &mut tx, claim(m.gym, attached, "story:1"))
        .await
        .unwrap();
    let missing = attachments
        .claim(ctx, &mut tx, claim(m.gym, Uuid::now_v7(), "story:2"))
        .await;
    assert_eq!(
        missing.err().map(|err| err.status().as_u16()),
        Some(422),
        "claiming an unknown id is a field error"
    );
    tx.commit().await.unwrap();
    sqlx::query("update media set created_at = now() - interval '25 hours' where id <> $1")
        .bind(recent)
        .execute(&pool)
        .await
        .unwrap();

    // The hourly schedule's period has passed.
    sqlx::query("update job_schedules set next_run_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let outcomes = m.app.jobs.drain().await.unwrap();
    assert!(
        format!("{outcomes:?}").contains("media.sweep_unattached"),
        "{outcomes:?}"
    );

    let left: Vec<Uuid> = sqlx::query_scalar("select id from media order by id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut expected = vec![attached, recent];
    expected.sort();
    assert_eq!(left, expected);
    assert!(!left.contains(&orphan));
    assert_eq!(m.files().len(), 4, "{:?}", m.files());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn an_upload_stays_while_any_record_holds_it_and_only_its_uploader_may_claim_it(
    pool: PgPool,
) {
    let m = MediaApp::spawn(pool.clone()).await;
    let item = m.upload_png(&m.owner).await;
    let id = uuid_of(&item["id"]);
    let ctx = &m.app.ctx;
    let attachments = ctx.attachments().unwrap();
    let attached_at = || async {
        let row: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("select attached_at from media where id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        row
    };

    // Someone else's upload is refused to a claim made for its uploader only.
    let stranger = Uuid::now_v7();
    let mut tx = kernel::db::begin_tenant(&pool, m.gym).await.unwrap();
    let refused = attachments
        .claim(
            ctx,
            &mut tx,
            Claim {
                uploaded_by: Some(stranger),
                ..claim(m.gym, id, "story:a")
            },
        )
        .await;
    assert_eq!(refused.err().map(|err| err.status().as_u16()), Some(422));
    drop(tx);

    // Two records hold it; the claim describes the upload.
    let mut tx = kernel::db::begin_tenant(&pool, m.gym).await.unwrap();
    let owned = Claim {
        uploaded_by: Some(m.owner.user_id),
        ..claim(m.gym, id, "story:a")
    };
    let attachment = attachments.claim(ctx, &mut tx, owned).await.unwrap();
    assert_eq!(attachment.kind, MediaKind::Image);
    assert_eq!(attachment.url, item["url"].as_str().unwrap());
    attachments
        .claim(ctx, &mut tx, claim(m.gym, id, "highlight-cover:b"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(attached_at().await.is_some());

    // While held, nobody may delete it, not even the owner.
    m.as_owner()
        .delete(&media_path(&item))
        .expect_problem(409, "media_in_use")
        .await;

    // Releasing one claim keeps it attached; releasing the last makes it sweepable again.
    let mut tx = kernel::db::begin_tenant(&pool, m.gym).await.unwrap();
    attachments
        .release(ctx, &mut tx, m.gym, id, "story:a")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        attached_at().await.is_some(),
        "the highlight still holds it"
    );
    let mut tx = kernel::db::begin_tenant(&pool, m.gym).await.unwrap();
    attachments
        .release(ctx, &mut tx, m.gym, id, "highlight-cover:b")
        .await
        .unwrap();
    attachments
        .release(ctx, &mut tx, m.gym, id, "never-held")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(attached_at().await, None);
    m.as_owner().delete(&media_path(&item)).expect(204).await;
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn bad_uploads_are_client_errors_and_store_nothing(pool: PgPool) {
    let m = MediaApp::spawn(pool.clone()).await;
    let owner = &m.owner;

    // Not multipart at all.
    m.as_owner()
        .post("/api/v1/media")
        .json(&json!({"file": "x"}))
        .expect_problem(415, "unsupported_media_type")
        .await;

    // Multipart without a boundary.
    m.as_owner()
        .post("/api/v1/media")
        .header("Content-Type", "multipart/form-data")
        .body("nothing")
        .expect_problem(400, "malformed_multipart")
        .await;

    // No parts, or another part instead of `file`.
    let problem = m
        .upload_raw(owner, multipart(&[]))
        .expect_problem(400, "missing_file")
        .await;
    assert_eq!(error_fields(&problem), ["file"]);
    let note = || Part {
        name: "note",
        file_name: None,
        content_type: None,
        bytes: b"hello",
    };
    let problem = m
        .upload_raw(owner, multipart(&[note()]))
        .expect_problem(400, "unknown_field")
        .await;
    assert_eq!(error_fields(&problem), ["note"]);
    // ... or after it: refused too, and the file before it is not kept.
    let problem = m
        .upload_raw(
            owner,
            multipart(&[file("a.png", "image/png", &png(8, 8, None)), note()]),
        )
        .expect_problem(400, "unknown_field")
        .await;
    assert_eq!(error_fields(&problem), ["note"]);

    // An empty file.
    let problem = m
        .upload(owner, file("a.png", "image/png", b""))
        .expect_problem(422, "validation_failed")
        .await;
    assert_eq!(error_fields(&problem), ["file"]);

    // A body cut off in the middle of the file.
    let mut truncated = multipart(&[file("a.png", "image/png", &png(8, 8, None))]);
    truncated.truncate(truncated.len() - 20);
    m.upload_raw(owner, truncated)
        .expect_problem(400, "malformed_multipart")
        .await;

    // Ids and keys that name nothing.
    m.as_owner()
        .get("/api/v1/media/not-a-uuid")
        .expect_problem(400, "invalid_parameter")
        .await;
    m.as_owner()
        .get(&format!("/api/v1/media/{}", Uuid::now_v7()))
        .expect_problem(404, "not_found")
        .await;
    for key in [
        format!("{}/{}.png", m.gym, Uuid::new_v4().simple()),
        "garbage".to_string(),
        format!("{}/../../etc/passwd", m.gym),
    ] {
        m.app
            .anon()
            .get(&format!("/media/{key}"))
            .expect_problem(404, "not_found")
            .await;
    }

    assert_eq!(rows_in(&pool, "media").await, 0);
    assert!(m.files().is_empty(), "{:?}", m.files());
}

#[sqlx::test(migrator = "gymapi::MIGRATOR")]
async fn other_routes_keep_the_global_body_limit(pool: PgPool) {
    let m = MediaApp::spawn(pool).await;
    // Larger than server.body_limit_bytes (1 MiB), allowed on the upload route only.
    let big = vec![b' '; 1_100_000];
    m.as_owner()
        .post("/api/v1/members")
        .header("Content-Type", "application/json")
        .body(big.clone())
        .expect_problem(413, "payload_too_large")
        .await;

    // The upload route reads it, and refuses it as an image over the (test) image limit.
    let mut large_png = png(8, 8, None);
    large_png.extend_from_slice(&big);
    let problem = m
        .upload(&m.owner, file("big.png", "image/png", &large_png))
        .expect_problem(413, "payload_too_large")
        .await;
    assert_eq!(error_fields(&problem), ["file"]);
}
