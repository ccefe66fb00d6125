"""A peer built on the reference Python client, for test_interop_java.

    interop_peer.py REFERENCE_DIR PORT CHANNEL_IN CHANNEL_OUT

Connects as py_peer, answers calls named "double" on CHANNEL_IN, prints each
message it receives on CHANNEL_IN as one JSON line, sends
{"from": "python", "n": 7} to CHANNEL_OUT once it is ready, and ends when a
message with the key "quit" arrives.
"""
import json
import sys
import threading

sys.path.insert(0, sys.argv[1] + '/python')
from oocsi import OOCSI  # noqa: E402

port, channel_in, channel_out = int(sys.argv[2]), sys.argv[3], sys.argv[4]
done = threading.Event()


def on_message(sender, recipient, event):
    print(json.dumps({'sender': sender, 'recipient': recipient, 'event': event}), flush=True)
    if 'quit' in event:
        done.set()


def double(response):
    response['doubled'] = int(response['x']) * 2


peer = OOCSI('py_peer', '127.0.0.1', port, logger=lambda msg: None)
peer.subscribe(channel_in, on_message)
peer.register(channel_in, 'double', double)
print('ready', flush=True)
peer.send(channel_out, {'from': 'python', 'n': 7})
done.wait(60)
peer.stop()
