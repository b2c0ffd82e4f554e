//! The API's own description: `GET /api/openapi.json` serves the document
//! a script author (or a schema-driven fuzzer) works from, and a JSON route
//! sent a body without its media type says so instead of "not found".

use rocket::http::{ContentType, Status};
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_is_served_as_json_and_names_the_routes() {
    let app = spawn_app().await;
    let response = app.client.get("/api/openapi.json").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    let doc: Value = response.into_json().await.expect("JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/rooms/{room}/messages", "/api/search", "/api/dm"] {
        assert!(doc["paths"][path].is_object(), "{path} is described");
    }
}

#[tokio::test]
async fn a_json_route_sent_another_media_type_answers_415_with_the_fix() {
    let app = spawn_app().await;
    for path in ["/api/dm", "/api/settings", "/rooms/lobby/typing", "/rooms/lobby/messages/1/edit"] {
        let response = app.client.post(path).header(ContentType::Plain).body("{}").dispatch().await;
        assert_eq!(response.status(), Status::UnsupportedMediaType, "{path}");
        let body: Value = response.into_json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("application/json"), "{path}: {body}");
        let bare = app.client.post(path).body("{}").dispatch().await;
        assert_eq!(bare.status(), Status::UnsupportedMediaType, "{path} without a Content-Type");
    }
    let nowhere = app.client.post("/api/nothing-here").header(ContentType::Plain).body("{}").dispatch().await;
    assert_eq!(nowhere.status(), Status::NotFound, "a path no route has stays 404");
}
