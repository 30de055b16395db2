#!/usr/bin/env python3
"""Writes samples/spotify_pages.ndjson: one enveloped page of every kind tunestream decodes,
in the shapes Spotify returns in 2026 (development mode: playlist entries under `item`, no
popularity/followers/available_markets/label/linked_from) and the legacy extended-quota shapes
(`track`, full fields). Deterministic: re-running it rewrites the same bytes."""
import json, os

API = "https://api.spotify.com/v1"

def ref(kind, i, name):
    return {"external_urls": {"spotify": f"https://open.spotify.com/{kind}/{i}"}, "href": f"{API}/{kind}s/{i}",
            "id": i, "name": name, "type": kind, "uri": f"spotify:{kind}:{i}"}

def album(i, name, artists, date, precision, total, full=False):
    a = {**ref("album", i, name), "album_type": "album", "total_tracks": total, "release_date": date,
         "release_date_precision": precision, "artists": artists,
         "images": [{"url": f"https://i.scdn.co/image/{i}", "height": 640, "width": 640}]}
    if full:
        a.update({"available_markets": ["SE", "US"], "label": "Sample Records", "popularity": 61})
    return a

def track(i, name, alb, artists, duration, number, isrc, full=False):
    t = {**ref("track", i, name), "album": alb, "artists": artists, "disc_number": 1, "duration_ms": duration,
         "explicit": number % 2 == 0, "external_ids": {"isrc": isrc}, "is_local": False, "track_number": number,
         "is_playable": True, "preview_url": None}
    if full:
        t.update({"available_markets": ["SE", "US"], "popularity": 40 + number,
                  "linked_from": ref("track", i + "L", name)})
    return t

ar1, ar2, ar3 = ref("artist", "ar1", "Neon River"), ref("artist", "ar2", "Velvet Echo"), ref("artist", "ar3", "Paper Ghost")
al1 = album("al1", "Midnight City", [ar1], "2021-05-14", "day", 10)
al2 = album("al2", "Summer Stone", [ar2, ar3], "1999", "year", 12)
al3 = album("al3", "Blue Rain", [ar3], "2024-02", "month", 8)
t1 = track("tr1", "Gold Dream", al1, [ar1], 201000, 1, "USAAA2100001")
t2 = track("tr2", "Wild Heart", al2, [ar2, ar3], 185500, 3, "USAAA9900003")
t3 = track("tr3", "Echo Sugar", al3, [ar3, ar1], 240123, 2, "USAAA2400002")
user = {"external_urls": {"spotify": "https://open.spotify.com/user/u1"}, "href": f"{API}/users/u1", "id": "u1",
        "type": "user", "uri": "spotify:user:u1", "display_name": "Sample User"}
local = {"album": {"album_type": None, "artists": [], "available_markets": [], "external_urls": {}, "href": None,
                   "id": None, "images": [], "name": "", "release_date": None, "release_date_precision": None,
                   "type": "album", "uri": None},
         "artists": [{"external_urls": {}, "href": None, "id": None, "name": "Home Taper", "type": "artist", "uri": None}],
         "disc_number": 0, "duration_ms": 93000, "explicit": False, "external_ids": {}, "external_urls": {}, "href": None,
         "id": None, "is_local": True, "name": "Basement Demo", "track_number": 0, "type": "track",
         "uri": "spotify:local:Home+Taper::Basement+Demo:93"}
episode = {"type": "episode", "id": "ep1", "name": "Pipelines Weekly #12", "uri": "spotify:episode:ep1",
           "href": f"{API}/episodes/ep1", "external_urls": {"spotify": "https://open.spotify.com/episode/ep1"},
           "duration_ms": 3600000, "explicit": False, "release_date": "2026-11-01", "release_date_precision": "day",
           "show": {**ref("show", "sh1", "Pipelines Weekly"), "publisher": "Data Folk"}, "images": []}

def entry(payload, added, key="item", local_flag=False):
    return {"added_at": added, "added_by": user, "is_local": local_flag, "primary_color": None, key: payload,
            "video_thumbnail": {"url": None}}

def env(kind, url, fetched_at, body, user_id=None, snapshot_id=None):
    e = {"kind": kind, "url": url, "fetched_at": fetched_at, "user_id": user_id}
    if snapshot_id:
        e["snapshot_id"] = snapshot_id
    e["body"] = body
    return e

def paging(url, items, offset=0, total=None, nxt=None):
    return {"href": url, "items": items, "limit": 100, "next": nxt, "offset": offset, "previous": None,
            "total": total if total is not None else offset + len(items)}

pages = []
u = f"{API}/playlists/pl1/items?offset=0&limit=3"
pages.append(env("playlist_items", u, "2026-11-25T09:59:58.250000Z", paging(u, [
    entry(t1, "2026-10-01T08:00:00Z"), None, entry(local, "2026-10-02T09:30:00Z", local_flag=True)],
    total=6, nxt=f"{API}/playlists/pl1/items?offset=3&limit=3"), snapshot_id="snapA"))
u = f"{API}/playlists/pl1/items?offset=3&limit=3"
pages.append(env("playlist_items", u, "2026-11-25T10:00:01.500000Z", paging(u, [
    entry(episode, "2026-11-02T07:00:00Z"), entry(t2, "2026-11-03T07:00:00Z"), entry(None, None)],
    offset=3, total=6), snapshot_id="snapA"))
# An extended-quota app: entries under `track`, with popularity and markets.
u = f"{API}/playlists/pl2/tracks?offset=0&limit=100"
full_al1 = album("al1", "Midnight City", [ar1], "2021-05-14", "day", 10, full=True)
pages.append(env("playlist_items", u, "2026-11-25T10:00:02Z", paging(u, [
    {**entry(track("tr1", "Gold Dream", full_al1, [ar1], 201000, 1, "USAAA2100001", full=True), "2026-09-09T09:09:09Z", key="track"), "episode": False},
    entry(track("tr3", "Echo Sugar", al3, [ar3, ar1], 240123, 2, "USAAA2400002", full=True), "2026-09-10T10:10:10Z", key="track")]),
    snapshot_id="snapB"))
u = f"{API}/me/player/recently-played?limit=50&after=1764061200000"
pages.append(env("recently_played", u, "2026-11-25T10:00:03.000001Z", {
    "href": u, "limit": 50, "next": None, "cursors": {"after": "1764064800123", "before": "1764061500000"}, "total": None,
    "items": [{"track": t2, "played_at": "2026-11-25T09:05:00.000Z", "context": {"type": "playlist", "uri": "spotify:playlist:pl1", "href": f"{API}/playlists/pl1", "external_urls": {}}},
              {"track": t3, "played_at": "2026-11-25T09:45:00.123Z", "context": None}]}, user_id="u1"))
pages.append(env("track", f"{API}/tracks/tr3", "2026-11-25T10:00:04Z", t3))
full_al2 = {**album("al2", "Summer Stone", [ar2, ar3], "1999", "year", 12), "label": "Stone Age", "external_ids": {"upc": "00602500000001"},
            "tracks": paging(f"{API}/albums/al2/tracks", [{k: v for k, v in t2.items() if k != "album"}])}
pages.append(env("album", f"{API}/albums/al2", "2026-11-25T10:00:05Z", full_al2))
pages.append(env("artist", f"{API}/artists/ar1", "2026-11-25T10:00:06Z",
                 {**ar1, "followers": {"href": None, "total": 120345}, "genres": ["synthwave", "dream pop"], "popularity": 57, "images": []}))
pages.append(env("artist", f"{API}/artists/ar2", "2026-11-25T10:00:06.5Z", {**ar2, "genres": [], "images": []}))
u = f"{API}/artists/ar3/albums?offset=0&limit=10"
pages.append(env("artist_albums", u, "2026-11-25T10:00:07Z", paging(u, [{**al3, "album_group": "album"}, {**al2, "album_group": "appears_on"}])))
pages.append(env("playlist", f"{API}/playlists/pl1", "2026-11-25T10:00:08Z", {
    **ref("playlist", "pl1", "Morning Flow"), "collaborative": False, "description": "Sample", "public": True,
    "snapshot_id": "snapA", "owner": user, "images": [], "tracks": None,
    "items": {"href": f"{API}/playlists/pl1/items", "total": 6}}))
u = f"{API}/search?q=echo&type=track,artist,album,playlist&limit=10"
pages.append(env("search", u, "2026-11-25T11:00:09Z", {
    "tracks": paging(f"{API}/search?q=echo&type=track", [t3]),
    "artists": paging(f"{API}/search?q=echo&type=artist", [{**ar2, "genres": [], "images": []}]),
    "albums": paging(f"{API}/search?q=echo&type=album", [al3]),
    "playlists": paging(f"{API}/search?q=echo&type=playlist", [None, {**ref("playlist", "pl3", "Echoes"), "owner": user, "snapshot_id": "snapC", "items": {"href": None, "total": 42}}])}))
u = f"{API}/me/following?type=artist&limit=50"
pages.append(env("followed_artists", u, "2026-11-25T11:00:10Z", {"artists": {
    "href": u, "items": [{**ar3, "genres": ["folk"], "images": []}], "limit": 50, "next": None,
    "cursors": {"after": "ar3"}, "total": 1}}, user_id="u1"))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spotify_pages.ndjson")
with open(out, "w") as f:
    for p in pages:
        f.write(json.dumps(p, separators=(",", ":")) + "\n")
