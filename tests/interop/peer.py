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

Commands of test_interop_features (the block at the end):

  vdef      {name, channel, key, [min], [max], [smooth], [sigma]}: a
            reference OOCSIVariable; prints {"event": "vdef", "name"}
  vset      {name, value}; prints {"event": "vset", "name"}
  vget      {name}; prints {"event": "vget", "name", "value"}
  listen    {channel}; prints {"event": "heard", "channel", "sender", "data"}
            for each message there
  send_json {channel, payload}: sends payload as it is (as Home Assistant's OOCSI
            integration does with this client; "payload", since this client
            drops a key "data" from what it receives); prints
            {"event": "sent_json"}
"""
import functools
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


# ---------------------------------------------- commands of test_interop_features
variables = {}


def heard(channel, sender, recipient, event):
    emit(event='heard', channel=channel, sender=sender, data=event)


def features(cmd):
    name = cmd['cmd']
    if name == 'vdef':
        v = client.variable(cmd['channel'], cmd['key'])
        # min()/max() of the reference class fail on a variable without a
        # value (they compare with None): set the bounds it reads directly.
        if 'min' in cmd:
            v.minvalue = cmd['min']
        if 'max' in cmd:
            v.maxvalue = cmd['max']
        if 'smooth' in cmd:
            v.smooth(cmd['smooth'], cmd.get('sigma'))
        variables[cmd['name']] = v
        emit(event='vdef', name=cmd['name'])
    elif name == 'vset':
        variables[cmd['name']].set(cmd['value'])
        emit(event='vset', name=cmd['name'])
    elif name == 'vget':
        emit(event='vget', name=cmd['name'], value=variables[cmd['name']].get())
    elif name == 'listen':
        client.subscribe(cmd['channel'], functools.partial(heard, cmd['channel']))
        emit(event='listen')
    elif name == 'send_json':
        client.send(cmd['channel'], cmd['payload'])
        emit(event='sent_json')
# ----------------------------------------------------------------------------


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
    else:
        features(cmd)
client.stop()
