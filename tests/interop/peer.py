"""A peer on the reference Python OOCSI client, for test_interop_peer.

    PYTHONPATH=.../shared/reference/python python3 peer.py PORT HANDLE PREFIX

Connects as HANDLE to the server on 127.0.0.1:PORT and prints one JSON
object a line on stdout (the test reads them through a pipe):

  {"event": "ready", "handle": HANDLE}     subscribed (after a barrier)
  {"event": "message", "sender", "recipient", "data"}   each message on PREFIX_in
  {"event": "sent"}                         after the "send" command
  {"event": "response", "data": {...}|null} the answer to the "call" command
  {"event": "var_set", "value": v}          after the "var_set" command
  {"event": "variable", "value": v|null}    the answer to "var_get"

Commands are messages on PREFIX_in with a "cmd" key, run in order on the
main thread (a call waits for its response there, not on the receiver):

  send      sends {"from": "python", "n": 7, "ratio": 0.25, "ok": true,
            "text": "h\u00e9llo w\u00f6rld"} to PREFIX_out
  call      calls "mul" on PREFIX_c_calls with {"x": cmd.x, "y": cmd.y}
  var_set   sets the variable "level" on PREFIX_var to cmd.value
  var_get   reports that variable's value
  quit      leaves

It answers calls named "add" on PREFIX_peer_calls: {"a", "b"} ->
{"sum": a + b, "by": "python"}.
"""
import json
import queue
import sys
import threading

from oocsi import OOCSI

port, handle, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
commands = queue.Queue()
barrier = threading.Event()
out_lock = threading.Lock()


def emit(**event):
    with out_lock:
        print(json.dumps(event, sort_keys=True), flush=True)


def on_direct(sender, recipient, event):
    if event.get('barrier') == handle:
        barrier.set()


def on_in(sender, recipient, event):
    emit(event='message', sender=sender, recipient=recipient, data=event)
    if 'cmd' in event:
        commands.put(event)


def add(request):
    request['sum'] = request['a'] + request['b']
    request['by'] = 'python'


def log(message):
    print(message, file=sys.stderr, flush=True)


client = OOCSI(handle, '127.0.0.1', port, callback=on_direct, logger=log)
client.subscribe(prefix + '_in', on_in)
client.register(prefix + '_peer_calls', 'add', add)
level = client.variable(prefix + '_var', 'level')
# The server handles one connection's lines in order: once this message to
# ourselves is back, the subscriptions above are in place.
client.send(handle, {'barrier': handle})
if not barrier.wait(30):
    sys.exit('the barrier message did not come back')
emit(event='ready', handle=handle)

while True:
    try:
        cmd = commands.get(timeout=120)
    except queue.Empty:
        sys.exit('no command for 120 s')
    name = cmd['cmd']
    if name == 'send':
        client.send(prefix + '_out', {'from': 'python', 'n': 7, 'ratio': 0.25, 'ok': True,
                                      'text': 'h\u00e9llo w\u00f6rld'})
        emit(event='sent')
    elif name == 'call':
        call = client.callAndWait(prefix + '_c_calls', 'mul', {'x': cmd['x'], 'y': cmd['y']}, 10)
        emit(event='response', data=call.get('response'))
    elif name == 'var_set':
        level.set(cmd['value'])
        emit(event='var_set', value=cmd['value'])
    elif name == 'var_get':
        emit(event='variable', value=level.get())
    elif name == 'quit':
        break
client.stop()
