-- A database as Go edgecore v1.20.0 leaves it: beego's DDL (spec/local-apis.md 2.2, in
-- registration order) and rows in the formats of spec 2.3/2.4. Object values are what Go's
-- json.Encoder writes: compact, keys sorted, a trailing newline. Hand-written test data.
CREATE TABLE IF NOT EXISTS `device` (
    `id` varchar(64) NOT NULL PRIMARY KEY,
    `name` text,
    `description` text,
    `state` text,
    `last_online` text
);
CREATE TABLE IF NOT EXISTS `device_attr` (
    `id` integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    `deviceid` text,
    `name` text,
    `description` text,
    `value` text,
    `optional` bool,
    `attr_type` text,
    `metadata` text
);
CREATE TABLE IF NOT EXISTS `device_twin` (
    `id` integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    `deviceid` text,
    `name` text,
    `description` text,
    `expected` text,
    `actual` text,
    `expected_meta` text,
    `actual_meta` text,
    `expected_version` text,
    `actual_version` text,
    `optional` bool,
    `attr_type` text,
    `metadata` text
);
CREATE TABLE IF NOT EXISTS `sub_topics` (
    `topic` text NOT NULL PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS `meta` (
    `key` varchar(256) NOT NULL PRIMARY KEY,
    `type` varchar(32) NOT NULL DEFAULT '' ,
    `value` text
);
CREATE TABLE IF NOT EXISTS `meta_v2` (
    `key` varchar(256) NOT NULL PRIMARY KEY,
    `groupversionresource` varchar(256) NOT NULL DEFAULT '' ,
    `namespace` varchar(256) NOT NULL DEFAULT '' ,
    `name` varchar(256) NOT NULL DEFAULT '' ,
    `resourceversion` bigint unsigned NOT NULL DEFAULT 0 ,
    `value` text
);
CREATE TABLE IF NOT EXISTS `target_urls` (
    `url` text NOT NULL PRIMARY KEY
);
INSERT INTO meta (key, type, value) VALUES ('default/pod/nginx', 'pod', '{"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"app":"nginx"},"name":"nginx","namespace":"default","resourceVersion":"4711","uid":"0f6c1a2e-9b1d-4c47-8f0e-3d2b9a7c5e11"},"spec":{"containers":[{"image":"nginx:1.25","name":"nginx"}],"nodeName":"edge-1"}}');
INSERT INTO meta (key, type, value) VALUES ('default/podpatch/nginx', 'podpatch', '{"status":{"phase":"Running"}}');
INSERT INTO meta (key, type, value) VALUES ('default/configmap/app-config', 'configmap', '{"apiVersion":"v1","data":{"mode":"edge"},"kind":"ConfigMap","metadata":{"name":"app-config","namespace":"default","resourceVersion":"4712"}}');
INSERT INTO meta (key, type, value) VALUES ('default/node/edge-1', 'node', '{"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-1","resourceVersion":"4713"}}');
INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace,name,resourceversion,value) VALUES ('/core/v1/pods/default/nginx', '/v1, Resource=pods', 'default', 'nginx', 4711, '{"apiVersion":"v1","kind":"Pod","metadata":{"creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app":"nginx"},"name":"nginx","namespace":"default","resourceVersion":"4711","uid":"0f6c1a2e-9b1d-4c47-8f0e-3d2b9a7c5e11"},"spec":{"containers":[{"image":"nginx:1.25","name":"nginx"}],"nodeName":"edge-1"},"status":{"phase":"Running"}}
');
INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace,name,resourceversion,value) VALUES ('/core/v1/configmaps/default/app-config', '/v1, Resource=configmaps', 'default', 'app-config', 4712, '{"apiVersion":"v1","data":{"mode":"edge"},"kind":"ConfigMap","metadata":{"name":"app-config","namespace":"default","resourceVersion":"4712"}}
');
INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace,name,resourceversion,value) VALUES ('/core/v1/nodes/null/edge-1', '/v1, Resource=nodes', '', 'edge-1', 4713, '{"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-1","resourceVersion":"4713"}}
');
INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace,name,resourceversion,value) VALUES ('/version', '', '', '', 0, '{"major":"1","minor":"30"}');
