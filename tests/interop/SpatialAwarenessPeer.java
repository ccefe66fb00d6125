/*
 * A peer on the reference Java OOCSI client for test_interop_spatial: it
 * joins spatial and awareness groups with the client's own behaviour classes
 * (OOCSISpatial, OOCSIAwareness) and runs an OOCSIStateMachine, as told by
 * commands, and prints what it sees as one JSON object a line. Commands are
 * messages on PREFIX_in with "cmd":
 *
 *   spatial {channel, key, x[, y], nd}  join a 1-D (or 2-D with y) group
 *   spatial_state                       -> {"event":"spatial", "positions": {h: "text"},
 *                                           "neighbours": [...], "closest": h}
 *   route {dest}                        -> {"event":"route", "via": h or null}
 *   aware {channel, keys}               join an awareness group (keys "" = all)
 *   aware_say {channel, k: v, ...}      send the other keys to "<channel>_awareness"
 *   aware_state {nodes, keys}           -> {"event":"awareness", "size": n,
 *                                           "nodes": {node: {key: value}}}
 *   sm {states, ops: "set:a,exec,..."}  -> {"event":"sm", "trace": "...", "state": current}
 *
 * Lists (keys, nodes, states, ops) are comma-separated text.
 *   quit
 *
 * Compiled by the test at run time against oocsi-client.jar:
 *
 *   java -cp oocsi-client.jar:CLASSES SpatialAwarenessPeer PORT HANDLE PREFIX
 */
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import nl.tue.id.oocsi.OOCSIEvent;
import nl.tue.id.oocsi.client.OOCSIClient;
import nl.tue.id.oocsi.client.behavior.OOCSIAwareness;
import nl.tue.id.oocsi.client.behavior.OOCSISpatial;
import nl.tue.id.oocsi.client.behavior.state.OOCSIStateMachine;
import nl.tue.id.oocsi.client.protocol.EventHandler;
import nl.tue.id.oocsi.client.protocol.Handler;

public class SpatialAwarenessPeer {
    private static final BlockingQueue<OOCSIEvent> commands = new LinkedBlockingQueue<>();

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String handle = args[1], prefix = args[2];
        OOCSIClient client = new OOCSIClient(handle);
        if (!client.connect("127.0.0.1", port)) {
            System.err.println("could not connect");
            System.exit(2);
        }
        CountDownLatch barrier = new CountDownLatch(1);
        client.subscribe(handle, new EventHandler() {
            public void receive(OOCSIEvent e) {
                if (handle.equals(e.getString("barrier")))
                    barrier.countDown();
            }
        });
        client.subscribe(prefix + "_in", new EventHandler() {
            public void receive(OOCSIEvent e) {
                if (e.has("cmd"))
                    commands.add(e);
            }
        });
        client.send(handle, map("barrier", handle));
        if (!barrier.await(30, TimeUnit.SECONDS)) {
            System.err.println("the barrier message did not come back");
            System.exit(3);
        }
        Map<String, Object> ready = event("ready");
        ready.put("handle", handle);
        emit(ready);
        OOCSISpatial spatial = null;
        OOCSIAwareness awareness = null;
        for (;;) {
            OOCSIEvent cmd = commands.poll(120, TimeUnit.SECONDS);
            if (cmd == null) {
                System.err.println("no command for 120 s");
                System.exit(4);
            }
            String name = cmd.getString("cmd", "");
            if (name.equals("spatial")) {
                float x = (float) cmd.getDouble("x", 0), nd = (float) cmd.getDouble("nd", 1);
                String ch = cmd.getString("channel"), key = cmd.getString("key");
                spatial = cmd.has("y") ? OOCSISpatial.createSpatial(client, ch, key, x, (float) cmd.getDouble("y", 0), nd)
                                       : OOCSISpatial.createSpatial(client, ch, key, x, nd);
                emit(event("spatial_joined"));
            } else if (name.equals("spatial_state")) {
                Map<String, Object> ev = event("spatial");
                Map<String, Object> pos = new LinkedHashMap<>();
                for (Map.Entry<String, ?> e : spatial.positions.entrySet())
                    pos.put(e.getKey(), serialise(e.getValue()));
                ev.put("positions", pos);
                List<String> nb = new ArrayList<>(spatial.getNeighbors());
                Collections.sort(nb);
                ev.put("neighbours", nb);
                ev.put("closest", spatial.getClosestNeighbor());
                emit(ev);
            } else if (name.equals("route")) {
                Map<String, Object> ev = event("route");
                ev.put("via", spatial.routing(cmd.getString("dest")));
                emit(ev);
            } else if (name.equals("aware")) {
                awareness = new OOCSIAwareness(client, cmd.getString("channel"), 0, strings(cmd.getObject("keys")));
                emit(event("aware_joined"));
            } else if (name.equals("aware_say")) {
                Map<String, Object> data = new LinkedHashMap<>();
                for (String k : cmd.keys())
                    if (!k.equals("cmd") && !k.equals("channel"))
                        data.put(k, cmd.getObject(k));
                client.send(cmd.getString("channel") + "_awareness", data);
                emit(event("aware_said"));
            } else if (name.equals("aware_state")) {
                Map<String, Object> ev = event("awareness");
                ev.put("size", awareness.size());
                Map<String, Object> nodes = new LinkedHashMap<>();
                for (String node : strings(cmd.getObject("nodes"))) {
                    if (!awareness.containsNode(node))
                        continue;
                    Map<String, Object> kv = new LinkedHashMap<>();
                    for (String k : strings(cmd.getObject("keys")))
                        kv.put(k, awareness.get(node, k));
                    nodes.put(node, kv);
                }
                ev.put("nodes", nodes);
                emit(ev);
            } else if (name.equals("sm")) {
                StringBuilder trace = new StringBuilder();
                OOCSIStateMachine sm = new OOCSIStateMachine();
                for (String s : strings(cmd.getObject("states")))
                    sm.addState(s, recorder(trace, "enter", s), recorder(trace, "stay", s), recorder(trace, "exit", s));
                for (String op : strings(cmd.getObject("ops"))) {
                    if (op.startsWith("set:"))
                        sm.set(op.substring(4));
                    else
                        sm.execute();
                }
                Map<String, Object> ev = event("sm");
                ev.put("trace", trace.toString());
                ev.put("state", sm.get());
                emit(ev);
            } else if (name.equals("quit")) {
                break;
            }
        }
        client.disconnect();
        System.exit(0);
    }

    /* Position.serialise() of the Java class (package-private, so by reflection). */
    private static String serialise(Object position) throws Exception {
        Method m = position.getClass().getMethod("serialise");
        m.setAccessible(true);
        return (String) m.invoke(position);
    }

    private static Handler recorder(StringBuilder trace, String what, String state) {
        return new Handler() {
            public void receive(String sender, Map<String, Object> data, long timestamp, String channel,
                    String recipient) {
                if (trace.length() > 0)
                    trace.append(' ');
                trace.append(what).append(':').append(state);
            }
        };
    }

    /* A list given as comma-separated text ("" is none). */
    private static String[] strings(Object csv) {
        String text = csv == null ? "" : String.valueOf(csv);
        return text.isEmpty() ? new String[0] : text.split(",");
    }

    private static Map<String, Object> map(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(key, value);
        return m;
    }

    private static Map<String, Object> event(String name) {
        return map("event", name);
    }

    private static synchronized void emit(Map<String, Object> ev) {
        StringBuilder sb = new StringBuilder();
        json(sb, ev);
        System.out.println(sb);
        System.out.flush();
    }

    /* A small JSON writer: maps, lists, strings, numbers, booleans, null. */
    private static void json(StringBuilder sb, Object v) {
        if (v instanceof Map) {
            sb.append('{');
            Iterator<? extends Map.Entry<?, ?>> it = ((Map<?, ?>) v).entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<?, ?> e = it.next();
                json(sb, String.valueOf(e.getKey()));
                sb.append(':');
                json(sb, e.getValue());
                if (it.hasNext())
                    sb.append(',');
            }
            sb.append('}');
        } else if (v instanceof List || v instanceof Object[]) {
            List<?> l = v instanceof List ? (List<?>) v : java.util.Arrays.asList((Object[]) v);
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0)
                    sb.append(',');
                json(sb, l.get(i));
            }
            sb.append(']');
        } else if (v instanceof String) {
            sb.append('"');
            for (char c : ((String) v).toCharArray()) {
                if (c == '"' || c == '\\')
                    sb.append('\\').append(c);
                else if (c < 0x20 || c > 0x7e)
                    sb.append(String.format("\\u%04x", (int) c));
                else
                    sb.append(c);
            }
            sb.append('"');
        } else if (v == null || v instanceof Number || v instanceof Boolean) {
            sb.append(String.valueOf(v));
        } else {
            json(sb, String.valueOf(v));
        }
    }
}
