-- Read-only checks after a deploy (safe to run any time): pipe status, what each pipe loaded in
-- the last day, and the merge graph's recent runs.
SELECT 'plays_pipe' AS pipe, SYSTEM$PIPE_STATUS('{{raw}}.plays_pipe') AS status;
SELECT 'playlist_tracks_pipe' AS pipe, SYSTEM$PIPE_STATUS('{{raw}}.playlist_tracks_pipe') AS status;
SELECT 'tracks_pipe' AS pipe, SYSTEM$PIPE_STATUS('{{raw}}.tracks_pipe') AS status;
SELECT 'albums_pipe' AS pipe, SYSTEM$PIPE_STATUS('{{raw}}.albums_pipe') AS status;
SELECT 'artists_pipe' AS pipe, SYSTEM$PIPE_STATUS('{{raw}}.artists_pipe') AS status;
SELECT 'track_artists_pipe' AS pipe, SYSTEM$PIPE_STATUS('{{raw}}.track_artists_pipe') AS status;
SELECT 'playlists_pipe' AS pipe, SYSTEM$PIPE_STATUS('{{raw}}.playlists_pipe') AS status;

-- Files loaded (or failed) per raw table in the last 24 hours.
SELECT 'plays' AS raw_table, file_name, status, row_count, first_error_message, last_load_time
FROM TABLE({{database}}.INFORMATION_SCHEMA.COPY_HISTORY(
  TABLE_NAME => '{{raw}}.plays', START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())))
ORDER BY last_load_time DESC;
SELECT 'playlist_tracks' AS raw_table, file_name, status, row_count, first_error_message, last_load_time
FROM TABLE({{database}}.INFORMATION_SCHEMA.COPY_HISTORY(
  TABLE_NAME => '{{raw}}.playlist_tracks', START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())))
ORDER BY last_load_time DESC;
SELECT 'tracks' AS raw_table, file_name, status, row_count, first_error_message, last_load_time
FROM TABLE({{database}}.INFORMATION_SCHEMA.COPY_HISTORY(
  TABLE_NAME => '{{raw}}.tracks', START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())))
ORDER BY last_load_time DESC;
SELECT 'albums' AS raw_table, file_name, status, row_count, first_error_message, last_load_time
FROM TABLE({{database}}.INFORMATION_SCHEMA.COPY_HISTORY(
  TABLE_NAME => '{{raw}}.albums', START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())))
ORDER BY last_load_time DESC;
SELECT 'artists' AS raw_table, file_name, status, row_count, first_error_message, last_load_time
FROM TABLE({{database}}.INFORMATION_SCHEMA.COPY_HISTORY(
  TABLE_NAME => '{{raw}}.artists', START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())))
ORDER BY last_load_time DESC;
SELECT 'track_artists' AS raw_table, file_name, status, row_count, first_error_message, last_load_time
FROM TABLE({{database}}.INFORMATION_SCHEMA.COPY_HISTORY(
  TABLE_NAME => '{{raw}}.track_artists', START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())))
ORDER BY last_load_time DESC;
SELECT 'playlists' AS raw_table, file_name, status, row_count, first_error_message, last_load_time
FROM TABLE({{database}}.INFORMATION_SCHEMA.COPY_HISTORY(
  TABLE_NAME => '{{raw}}.playlists', START_TIME => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())))
ORDER BY last_load_time DESC;

-- The merge graph's runs in the last day, failures first.
SELECT name, state, error_message, scheduled_time, completed_time
FROM TABLE({{database}}.INFORMATION_SCHEMA.TASK_HISTORY(
  SCHEDULED_TIME_RANGE_START => DATEADD(HOUR, -24, CURRENT_TIMESTAMP())))
WHERE database_name = '{{database}}'
ORDER BY state = 'SUCCEEDED', scheduled_time DESC;

-- Rows waiting in each stream for the next merge.
SELECT 'plays_to_fact_play' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.plays_to_fact_play') AS has_data;
SELECT 'plays_to_dim_user' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.plays_to_dim_user') AS has_data;
SELECT 'plays_to_dim_date' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.plays_to_dim_date') AS has_data;
SELECT 'tracks_to_dim_track' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.tracks_to_dim_track') AS has_data;
SELECT 'tracks_to_fact_track_popularity' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.tracks_to_fact_track_popularity') AS has_data;
SELECT 'albums_to_dim_album' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.albums_to_dim_album') AS has_data;
SELECT 'artists_to_dim_artist' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.artists_to_dim_artist') AS has_data;
SELECT 'artists_to_bridge_artist_genre' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.artists_to_bridge_artist_genre') AS has_data;
SELECT 'artists_to_fact_artist_snapshot' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.artists_to_fact_artist_snapshot') AS has_data;
SELECT 'track_artists_to_bridge_track_artist' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.track_artists_to_bridge_track_artist') AS has_data;
SELECT 'playlists_to_dim_playlist' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.playlists_to_dim_playlist') AS has_data;
SELECT 'playlist_tracks_to_fact_playlist_entry' AS stream, SYSTEM$STREAM_HAS_DATA('{{raw}}.playlist_tracks_to_fact_playlist_entry') AS has_data;
