//! HTTP behaviour: statuses, errors, ETags, caching and CORS headers, catalogue routes.

use super::*;
use crate::testkit::{categorical_layer, float_layer};

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let cases = [
        ("/tiles/f/31/0/0.png", "z:"),
        ("/tiles/f/3/8/0.png", "x:"),
        ("/tiles/f/3/0/9.png", "y:"),
        ("/tiles/f/3/0/0.gif", "format:"),
        (
            "/tiles/f/3/4/3.png?rescale=5",
            "rescale: expected two numbers lo,hi",
        ),
        ("/tiles/f/3/4/3.png?colormap=%7Bnope", "colormap:"),
        ("/tiles/f/3/4/3.png?colormap_name=nope", "colormap_name"),
    ];
    for (url, start) in cases {
        let r = svc.handle(&get(url)).await;
        assert_eq!(r.status, 400, "{url}");
        assert!(
            error_message(&r).contains(start),
            "{url}: {}",
            error_message(&r)
        );
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    // URL errors come before any read.
    assert_eq!(
        svc.bucket().tally().gets,
        1,
        "only the colormap_name case read a manifest"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_things_are_404() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    for url in [
        "/tiles/nope/3/4/3.png",
        "/tiles/f/3/4/3.png?legend=nope",
        "/legends/nope",
        "/legends/nope.png",
        "/layers/nope",
        "/tiles/nope.json",
        "/something/else",
    ] {
        let r = svc.handle(&get(url)).await;
        assert_eq!(r.status, 404, "{url}");
        let body: serde_json::Value = serde_json::from_slice(&r.body)?;
        assert_eq!(body["error"]["code"], "not_found");
    }
    Ok(())
}

#[tokio::test]
async fn methods_head_and_preflight() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let get_r = svc.handle(&get("/tiles/f/5/18/13.png")).await;
    let head = Request {
        method: "HEAD".into(),
        ..get("/tiles/f/5/18/13.png")
    };
    let head_r = svc.handle(&head).await;
    assert_eq!(head_r.status, 200);
    assert!(head_r.body.is_empty());
    assert_eq!(head_r.headers, get_r.headers);

    let options = Request {
        method: "OPTIONS".into(),
        ..get("/tiles/f/5/18/13.png")
    };
    let r = svc.handle(&options).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, HEAD, POST, OPTIONS")
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    let post = Request {
        method: "POST".into(),
        ..get("/tiles/f/5/18/13.png")
    };
    let r = svc.handle(&post).await;
    assert_eq!(r.status, 405);
    let put = Request {
        method: "PUT".into(),
        ..get("/tiles/f/5/18/13.png")
    };
    let r = svc.handle(&put).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    Ok(())
}

#[tokio::test]
async fn if_none_match_gives_304_without_reading_the_tile() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let first = svc
        .handle(&get("/tiles/f/5/18/13.png?rescale=0,6000"))
        .await;
    assert_eq!(first.status, 200);
    let tag = first.header("etag").ok_or("etag")?.to_owned();
    assert!(tag.starts_with('"'), "strong etag");
    assert_eq!(first.header("access-control-expose-headers"), Some("ETag"));
    // Same tile, same parameters written differently: same ETag.
    let again = svc
        .handle(&get("/tiles/f/5/18/13.png?rescale=0.0,6e3&junk=1"))
        .await;
    assert_eq!(again.header("etag"), Some(tag.as_str()));
    let other = svc
        .handle(&get("/tiles/f/5/18/13.png?rescale=0,5000"))
        .await;
    assert_ne!(other.header("etag"), Some(tag.as_str()));

    svc.bucket().reset();
    for header in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"x\", {tag}"),
        "*".to_owned(),
    ] {
        let req = Request {
            if_none_match: Some(header.clone()),
            ..get("/tiles/f/5/18/13.png?rescale=0,6000")
        };
        let r = svc.handle(&req).await;
        assert_eq!(r.status, 304, "{header}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(tag.as_str()));
        assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    }
    let tally = svc.bucket().tally();
    assert_eq!(
        (tally.gets, tally.reads),
        (0, 0),
        "304s read nothing: {tally:?}"
    );
    let req = Request {
        if_none_match: Some("\"stale\"".into()),
        ..get("/tiles/f/5/18/13.png")
    };
    assert_eq!(svc.handle(&req).await.status, 200);
    Ok(())
}

#[tokio::test]
async fn version_pinning() -> TestResult {
    let mut unpinned = categorical_layer("c");
    unpinned.pinned_copy = false;
    let (svc, store) = setup(&[float_layer("f"), unpinned]).await?;
    let r = svc.handle(&get("/tiles/f/5/18/13.png?v=v1")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let unpinned_tag = svc.handle(&get("/tiles/f/5/18/13.png")).await;
    assert_ne!(unpinned_tag.header("etag"), r.header("etag"));
    // The pinned copy is what is read: it still works when the current manifest is gone.
    store.delete("layers/f/manifest.json");
    let fresh = Service::new(store.clone(), crate::Config::default());
    assert_eq!(
        fresh.handle(&get("/tiles/f/5/18/13.png?v=v1")).await.status,
        200
    );
    assert_eq!(fresh.handle(&get("/tiles/f/5/18/13.png")).await.status, 404);
    // Without a pinned copy, the current manifest serves its own version only.
    assert_eq!(
        fresh.handle(&get("/tiles/c/5/18/13.png?v=v1")).await.status,
        200
    );
    let r = fresh.handle(&get("/tiles/c/5/18/13.png?v=v0")).await;
    assert_eq!(r.status, 404);
    assert!(error_message(&r).contains("version not found"));
    Ok(())
}

#[tokio::test]
async fn catalogue_routes() -> TestResult {
    let (svc, _) = setup(&[float_layer("f"), categorical_layer("c")]).await?;
    let r = svc.handle(&get("/health")).await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json"))
    );

    let r = svc
        .handle(&Request {
            origin: Some("https://t.example".into()),
            ..get("/layers")
        })
        .await;
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let layers = v["layers"].as_array().ok_or("layers")?;
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["id"], "c");
    assert_eq!(
        layers[1]["tiles"],
        "https://t.example/tiles/f/{z}/{x}/{y}.png"
    );
    assert_eq!(layers[1]["dtype"], "float32");
    assert_eq!(layers[0]["datatype"], "categorical");

    let r = svc.handle(&get("/layers/f")).await;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    assert!(v.get("objects").is_none());
    assert_eq!(v["tiles"], "/tiles/f/{z}/{x}/{y}.png");
    assert_eq!(v["max_zoom"], 5);

    let req = Request {
        origin: Some("http://h:1".into()),
        ..get("/tiles/f.json?colormap_name=viridis")
    };
    let r = svc.handle(&req).await;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    assert_eq!(v["tilejson"], "3.0.0");
    assert_eq!(
        v["tiles"][0],
        "http://h:1/tiles/f/{z}/{x}/{y}.png?colormap_name=viridis"
    );
    assert_eq!(
        (v["minzoom"].as_u64(), v["maxzoom"].as_u64()),
        (Some(0), Some(5))
    );
    assert_eq!(v["bounds"].as_array().map(Vec::len), Some(4));
    assert_eq!(v["center"].as_array().map(Vec::len), Some(3));
    let tag = r.header("etag").ok_or("etag")?.to_owned();
    let r = svc
        .handle(&Request {
            if_none_match: Some(tag),
            ..req
        })
        .await;
    assert_eq!(r.status, 304);

    let r = svc.handle(&get("/colormaps")).await;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    assert!(
        v["colormaps"]
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n == "viridis"))
    );
    Ok(())
}

#[tokio::test]
async fn legends() -> TestResult {
    let (svc, _) = setup(&[]).await?;
    let r = svc.handle(&get("/legends/classes")).await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json"))
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    assert_eq!(v[0]["color"], "#FF0000");
    let r = svc.handle(&get("/legends/classes.png")).await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("image/png")),
        "{}",
        error_message(&r)
    );
    let (w, h, _) = decode_png(&r.body)?;
    assert!(w > 0 && h > 0);
    Ok(())
}
