-- Resumes the merge graph: every child first, the root last, as Snowflake requires (a resumed
-- root with suspended children would skip them). Safe to re-run.
ALTER TASK IF EXISTS {{core}}.merge_dim_user RESUME;
ALTER TASK IF EXISTS {{core}}.merge_dim_track RESUME;
ALTER TASK IF EXISTS {{core}}.merge_dim_album RESUME;
ALTER TASK IF EXISTS {{core}}.merge_dim_artist RESUME;
ALTER TASK IF EXISTS {{core}}.merge_dim_playlist RESUME;
ALTER TASK IF EXISTS {{core}}.merge_bridge_track_artist RESUME;
ALTER TASK IF EXISTS {{core}}.merge_bridge_artist_genre RESUME;
ALTER TASK IF EXISTS {{core}}.merge_fact_play RESUME;
ALTER TASK IF EXISTS {{core}}.merge_fact_playlist_entry RESUME;
ALTER TASK IF EXISTS {{core}}.merge_fact_track_popularity RESUME;
ALTER TASK IF EXISTS {{core}}.merge_fact_artist_snapshot RESUME;
ALTER TASK IF EXISTS {{core}}.merge_root RESUME;
