-- Append-only streams on the raw tables, one per consuming task: a stream's offset moves when a
-- statement that reads it commits, so two tasks reading one stream would each see half.
-- Safe to re-run: IF NOT EXISTS. Never CREATE OR REPLACE a stream: that resets its offset, and the
-- rows appended meanwhile are never merged (or, with SHOW_INITIAL_ROWS, merged again).
CREATE STREAM IF NOT EXISTS {{raw}}.plays_to_fact_play ON TABLE {{raw}}.plays APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.plays_to_dim_user ON TABLE {{raw}}.plays APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.plays_to_dim_date ON TABLE {{raw}}.plays APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.tracks_to_dim_track ON TABLE {{raw}}.tracks APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.tracks_to_fact_track_popularity ON TABLE {{raw}}.tracks APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.albums_to_dim_album ON TABLE {{raw}}.albums APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.artists_to_dim_artist ON TABLE {{raw}}.artists APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.artists_to_bridge_artist_genre ON TABLE {{raw}}.artists APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.artists_to_fact_artist_snapshot ON TABLE {{raw}}.artists APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.track_artists_to_bridge_track_artist ON TABLE {{raw}}.track_artists APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.playlists_to_dim_playlist ON TABLE {{raw}}.playlists APPEND_ONLY = TRUE;
CREATE STREAM IF NOT EXISTS {{raw}}.playlist_tracks_to_fact_playlist_entry ON TABLE {{raw}}.playlist_tracks APPEND_ONLY = TRUE;
