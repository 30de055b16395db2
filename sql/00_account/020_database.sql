-- The database and its schemas: raw (as loaded), core (the star schema), mart (trend views).
-- Safe to re-run: IF NOT EXISTS never drops or replaces.
CREATE DATABASE IF NOT EXISTS {{database}};
CREATE SCHEMA IF NOT EXISTS {{raw}};
CREATE SCHEMA IF NOT EXISTS {{core}};
CREATE SCHEMA IF NOT EXISTS {{mart}};
