#!/usr/bin/env python3
"""Regenerates the golden message frames in this folder from the wire recordings in
/work/shared/refdata/go-edgecore-v1.15 (README.md there describes them).

The recordings keep each frame's parsed JSON plus, for edge->cloud frames, the payload length.
For an edge frame we rebuild the bytes Go wrote (keys in the order recorded, which is the order Go
wrote them; Go's string escaping; one trailing newline) and check them against the recorded length.
`<name>.sorted.json` is the same message with object keys in byte order: what Go itself produces
after decoding the frame into interface{} and marshalling it again, and what our codec produces.
Cloud frames were written by a Python stand-in, so only their Go re-encoding is kept.
"""
import json
import pathlib
import sys

REF = pathlib.Path('/work/shared/refdata/go-edgecore-v1.15')
OUT = pathlib.Path(__file__).resolve().parent


def go_dumps(v, sort):
    s = json.dumps(v, ensure_ascii=False, separators=(',', ':'), sort_keys=sort)
    # Go also escapes these inside strings; none of them can occur outside strings here.
    for a, b in (('<', '\\u003c'), ('>', '\\u003e'), ('&', '\\u0026'), ('\u2028', '\\u2028'),
                 ('\u2029', '\\u2029')):
        s = s.replace(a, b)
    return s


def go_message(msg, sort_content):
    h, r = msg.get('header', {}), msg.get('route', {})
    header = {'msg_id': h.get('msg_id', '')}
    if h.get('parent_msg_id'):
        header['parent_msg_id'] = h['parent_msg_id']
    header['timestamp'] = h.get('timestamp', 0)
    if h.get('resourceversion'):
        header['resourceversion'] = h['resourceversion']
    route = {k: r[k] for k in ('source', 'destination', 'group', 'operation', 'resource') if r.get(k)}
    return ('{"header":' + go_dumps(header, False) + ',"route":' + go_dumps(route, False) +
            ',"content":' + go_dumps(msg.get('content'), sort_content) + '}')


def frames(file, ev, pred):
    for line in (REF / file).read_text().splitlines():
        e = json.loads(line)
        if e['ev'] == ev and pred(e['msg']):
            yield e


def route(op, res):
    return lambda m: m['route'].get('operation') == op and m['route'].get('resource') == res


EDGE = {
    'edge_keepalive': ('a-bootstrap-idle.jsonl', route('keepalive', 'node')),
    'edge_membership_detail': ('b-pod-insert.jsonl', route('get', 'membership/detail')),
    'edge_query_node': ('a-bootstrap-idle.jsonl', route('query', 'default/node/edge-ref-1')),
    'edge_ack_pod': ('b-pod-insert.jsonl', route('response', 'default/pod/bb-1')),
    'edge_ack_lease': ('a-bootstrap-idle.jsonl', route('response', 'kube-node-lease/lease/edge-ref-1')),
    'edge_nodepatch_empty': ('a-bootstrap-idle.jsonl', route('patch', 'default/nodepatch/edge-ref-1')),
    'edge_nodepatch_status': ('d-drop-reconnect.jsonl', route('patch', 'default/nodepatch/edge-ref-1')),
    'edge_podpatch': ('b-pod-insert.jsonl', route('patch', 'default/podpatch/bb-1')),
    'edge_pod_delete': ('c-configmap-poddelete.jsonl', route('delete', 'default/pod/bb-1')),
    'edge_node_insert': ('a-bootstrap-idle.jsonl', route('insert', 'default/node/edge-ref-1')),
    'edge_lease_update': ('b-pod-insert.jsonl', route('update', 'kube-node-lease/lease/edge-ref-1')),
    'edge_twin_edge_updated': ('e-query-device.jsonl', route('update', 'device/dev-e1/twin/edge_updated')),
}
CLOUD = {
    'cloud_pod_insert': ('b-pod-insert.jsonl', route('insert', 'default/pod/bb-1')),
    'cloud_lease_objectresp_err': ('a-bootstrap-idle.jsonl', lambda m: m['route'].get('resource') ==
                                   'kube-node-lease/lease/edge-ref-1' and isinstance(m['content'], dict)
                                   and m['content'].get('Object', 1) is None),
    'cloud_node_errstatus': ('a-bootstrap-idle.jsonl', lambda m: isinstance(m['content'], dict) and
                             'ErrStatus' in m['content']),
    'cloud_podpatch_objectresp': ('b-pod-insert.jsonl', route('response', 'default/podpatch/bb-1')),
    'cloud_membership_update': ('e-query-device.jsonl', route('update', 'membership')),
    'cloud_pod_delete_ok': ('c-configmap-poddelete.jsonl', lambda m: m['route'].get('operation') ==
                            'response' and m['content'] == 'OK'),
}

for name, (file, pred) in EDGE.items():
    e = next(frames(file, 'recv', pred))
    wire = go_message(e['msg'], False) + '\n'
    if len(wire.encode()) != e['len'] or not e['nl']:
        sys.exit(f'{name}: rebuilt {len(wire.encode())} bytes, recorded {e["len"]}')
    (OUT / f'{name}.json').write_bytes(wire.encode())
    sorted_wire = go_message(e['msg'], True)
    if sorted_wire + '\n' != wire:
        (OUT / f'{name}.sorted.json').write_bytes(sorted_wire.encode())
for name, (file, pred) in CLOUD.items():
    e = next(frames(file, 'send', pred))
    (OUT / f'{name}.json').write_bytes(go_message(e['msg'], True).encode())
print('ok')
