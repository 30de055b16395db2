-- MANUAL. Pause: stops loading and merging without losing anything. Files that land meanwhile
-- are queued by the pipes (event notifications keep arriving) and streams keep their offsets.
ALTER TASK IF EXISTS {{core}}.merge_root SUSPEND;
ALTER PIPE IF EXISTS {{raw}}.plays_pipe SET PIPE_EXECUTION_PAUSED = TRUE;
ALTER PIPE IF EXISTS {{raw}}.playlist_tracks_pipe SET PIPE_EXECUTION_PAUSED = TRUE;
ALTER PIPE IF EXISTS {{raw}}.tracks_pipe SET PIPE_EXECUTION_PAUSED = TRUE;
ALTER PIPE IF EXISTS {{raw}}.albums_pipe SET PIPE_EXECUTION_PAUSED = TRUE;
ALTER PIPE IF EXISTS {{raw}}.artists_pipe SET PIPE_EXECUTION_PAUSED = TRUE;
ALTER PIPE IF EXISTS {{raw}}.track_artists_pipe SET PIPE_EXECUTION_PAUSED = TRUE;
ALTER PIPE IF EXISTS {{raw}}.playlists_pipe SET PIPE_EXECUTION_PAUSED = TRUE;
ALTER PIPE IF EXISTS {{raw}}.firehose_pipe SET PIPE_EXECUTION_PAUSED = TRUE;
