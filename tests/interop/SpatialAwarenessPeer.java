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
 * Compiled by the test at run time with PeerBase.java against oocsi-client.jar:
 *
 *   java -cp oocsi-client.jar:CLASSES SpatialAwarenessPeer PORT HANDLE PREFIX
 */
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import nl.tue.id.oocsi.OOCSIEvent;
import nl.tue.id.oocsi.client.OOCSIClient;
import nl.tue.id.oocsi.client.behavior.OOCSIAwareness;
import nl.tue.id.oocsi.client.behavior.OOCSISpatial;
import nl.tue.id.oocsi.client.behavior.state.OOCSIStateMachine;
import nl.tue.id.oocsi.client.protocol.Handler;

public class SpatialAwarenessPeer extends PeerBase {
    public static void main(String[] args) throws Exception {
        OOCSIClient client = connect(args);
        String prefix = args[2];
        commands(prefix + "_in", null);
        ready();
        OOCSISpatial spatial = null;
        OOCSIAwareness awareness = null;
        for (;;) {
            OOCSIEvent cmd = nextCommand();
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
        quit();
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

}
