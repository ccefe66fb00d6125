/*
 * A peer on the reference Java OOCSI client, for test_interop_peer: the same
 * commands and output lines as peer.py (see there), with "java" for
 * "python". Compiled by the test at run time with PeerBase.java against
 * oocsi-client.jar:
 *
 *   java -cp oocsi-client.jar:CLASSES InteropPeer PORT HANDLE PREFIX
 */
import java.util.LinkedHashMap;
import java.util.Map;

import nl.tue.id.oocsi.OOCSIBoolean;
import nl.tue.id.oocsi.OOCSIData;
import nl.tue.id.oocsi.OOCSIDouble;
import nl.tue.id.oocsi.OOCSIEvent;
import nl.tue.id.oocsi.OOCSIFloat;
import nl.tue.id.oocsi.OOCSIInt;
import nl.tue.id.oocsi.OOCSILong;
import nl.tue.id.oocsi.OOCSIString;
import nl.tue.id.oocsi.client.OOCSIClient;
import nl.tue.id.oocsi.client.data.OOCSIDevice;
import nl.tue.id.oocsi.client.data.OOCSIVariable;
import nl.tue.id.oocsi.client.protocol.EventHandler;
import nl.tue.id.oocsi.client.services.OOCSICall;
import nl.tue.id.oocsi.client.services.Responder;

public class InteropPeer extends PeerBase {
    public static void main(String[] args) throws Exception {
        OOCSIClient client = connect(args);
        String prefix = args[2];
        // every message on the input channel is printed, commands included
        commands(prefix + "_in", new EventHandler() {
            public void receive(OOCSIEvent e) {
                Map<String, Object> ev = event("message");
                ev.put("sender", e.getSender());
                // the channel it came on (getRecipient() is this client's own handle)
                ev.put("recipient", e.getChannel());
                ev.put("data", data(e));
                emit(ev);
            }
        });
        client.register(prefix + "_peer_calls", "add", new Responder(client) {
            public void respond(OOCSIEvent e, OOCSIData response) {
                response.data("sum", e.getDouble("a", 0) + e.getDouble("b", 0));
                response.data("by", "java");
            }
        });
        OOCSIDouble level = new OOCSIDouble(client, prefix + "_var", "level");
        ready();
        for (;;) {
            OOCSIEvent cmd = nextCommand();
            String name = cmd.getString("cmd", "");
            if (name.equals("send")) {
                Map<String, Object> m = map("from", "java");
                m.put("n", 7);
                m.put("ratio", 0.25);
                m.put("ok", true);
                m.put("text", "h\u00e9llo w\u00f6rld");
                client.send(prefix + "_out", m);
                emit(event("sent"));
            } else if (name.equals("call")) {
                OOCSICall call = new OOCSICall(client, prefix + "_c_calls", "mul", 10000, 1);
                call.data("x", cmd.getDouble("x", 0)).data("y", cmd.getDouble("y", 0)).sendAndWait();
                Map<String, Object> ev = event("response");
                ev.put("data", call.hasResponse() ? data(call.getFirstResponse()) : null);
                emit(ev);
            } else if (name.equals("var_set")) {
                level.set(cmd.getDouble("value", 0));
                Map<String, Object> ev = event("var_set");
                ev.put("value", cmd.getDouble("value", 0));
                emit(ev);
            } else if (name.equals("var_get")) {
                Map<String, Object> ev = event("variable");
                ev.put("value", level.get());
                emit(ev);
            } else if (name.equals("quit")) {
                break;
            } else if (Features.run(client, name, cmd)) {
                // a command of test_interop_features (below)
            }
        }
        quit();
    }


    /* ------------------------------------------------------------------
     * Commands of test_interop_features: typed variables and a heyOOCSI
     * device on the reference client, driven by the C test.
     *
     *   vdef    {name, type: bool|int|long|float|double|string, channel, key,
     *            [min], [max], [smooth], [sigma], [reference], [timeout]}
     *           makes the variable; prints {"event": "vchange", "name",
     *           "value"} after every update from the network
     *   vset    {name, value}  sets it; prints {"event": "vset", "name"}
     *   vget    {name}         prints {"event": "vget", "name", "value"}
     *   listen  {channel}      prints {"event": "heard", "channel", "data"}
     *                          for each message there
     *   hey     {device, channels: prefix}  announces the device that the C
     *           test describes the same way; prints {"event": "hey"}
     *   dev_set {component, key, value}  the device's setValueForComponent
     * ------------------------------------------------------------------ */
    static final class Features {
        private static final Map<String, OOCSIVariable<?>> vars = new LinkedHashMap<>();
        private static OOCSIDevice device;

        static boolean run(OOCSIClient client, String name, OOCSIEvent cmd) {
            switch (name) {
            case "vdef":
                define(client, cmd);
                return true;
            case "vset":
                set(cmd);
                return true;
            case "vget": {
                Map<String, Object> ev = event("vget");
                ev.put("name", cmd.getString("name", ""));
                ev.put("value", vars.get(cmd.getString("name", "")).get());
                emit(ev);
                return true;
            }
            case "listen": {
                final String channel = cmd.getString("channel", "");
                client.subscribe(channel, new EventHandler() {
                    public void receive(OOCSIEvent e) {
                        Map<String, Object> ev = event("heard");
                        ev.put("channel", channel);
                        ev.put("sender", e.getSender());
                        ev.put("data", data(e));
                        emit(ev);
                    }
                });
                emit(event("listen"));
                return true;
            }
            case "hey":
                hey(client, cmd.getString("device", ""), cmd.getString("channels", ""));
                emit(event("hey"));
                return true;
            case "dev_set": {
                Object v = cmd.getObject("value");
                String component = cmd.getString("component", ""), key = cmd.getString("key", "");
                if (v instanceof Boolean)
                    device.setValueForComponent(component, key, (Boolean) v);
                else
                    device.setValueForComponent(component, key, (Number) v);
                emit(event("dev_set"));
                return true;
            }
            default:
                return false;
            }
        }

        /* The variable's type as a Java value of it. */
        private static Object typed(String type, Object v) {
            if (v == null)
                return null;
            switch (type) {
            case "bool":
                return v instanceof Boolean ? v : Boolean.valueOf(String.valueOf(v));
            case "string":
                return String.valueOf(v);
            case "int":
                return ((Number) v).intValue();
            case "long":
                return ((Number) v).longValue();
            case "float":
                return ((Number) v).floatValue();
            default:
                return ((Number) v).doubleValue();
            }
        }

        private static void changed(String name, OOCSIVariable<?> v) {
            Map<String, Object> ev = event("vchange");
            ev.put("name", name);
            ev.put("value", v.get());
            emit(ev);
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private static void define(OOCSIClient client, OOCSIEvent cmd) {
            final String name = cmd.getString("name", ""), type = cmd.getString("type", "double");
            String ch = cmd.getString("channel", ""), key = cmd.getString("key", "");
            OOCSIVariable v;
            switch (type) {
            case "bool":
                v = new OOCSIBoolean(client, ch, key) {
                    public void remoteUpdate() { changed(name, this); }
                };
                break;
            case "string":
                v = new OOCSIString(client, ch, key) {
                    public void remoteUpdate() { changed(name, this); }
                };
                break;
            case "int":
                v = new OOCSIInt(client, ch, key) {
                    public void remoteUpdate() { changed(name, this); }
                };
                break;
            case "long":
                v = new OOCSILong(client, ch, key) {
                    public void remoteUpdate() { changed(name, this); }
                };
                break;
            case "float":
                v = new OOCSIFloat(client, ch, key) {
                    public void remoteUpdate() { changed(name, this); }
                };
                break;
            default:
                v = new OOCSIDouble(client, ch, key) {
                    public void remoteUpdate() { changed(name, this); }
                };
            }
            if (cmd.has("min"))
                v.min(typed(type, cmd.getObject("min")));
            if (cmd.has("max"))
                v.max(typed(type, cmd.getObject("max")));
            if (cmd.has("smooth"))
                v.smooth(cmd.getInt("smooth", 1), cmd.has("sigma") ? typed(type, cmd.getObject("sigma")) : null);
            if (cmd.has("reference"))
                v.reference(typed(type, cmd.getObject("reference")));
            if (cmd.has("timeout"))
                v.timeout(cmd.getInt("timeout", -1));
            vars.put(name, v);
            Map<String, Object> ev = event("vdef");
            ev.put("name", name);
            emit(ev);
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        private static void set(OOCSIEvent cmd) {
            String name = cmd.getString("name", "");
            OOCSIVariable v = vars.get(name);
            String type = v instanceof OOCSIBoolean ? "bool"
                    : v instanceof OOCSIString ? "string"
                    : v instanceof OOCSIInt ? "int"
                    : v instanceof OOCSILong ? "long"
                    : v instanceof OOCSIFloat ? "float" : "double";
            v.set(typed(type, cmd.getObject("value")));
            Map<String, Object> ev = event("vset");
            ev.put("name", name);
            emit(ev);
        }

        /* The device of test_interop_features, in the Java client's words. */
        private static void hey(OOCSIClient client, String name, String p) {
            device = client.heyOOCSI(name);
            device.addProperty("creator", "interop");
            device.addLocation("lab", 51.5f, 5.25f);
            device.addSensor("temp", p + "_temp", "temperature", "C", 20.5f, "thermometer");
            device.addNumber("level", p + "_level", 0f, 100f, "percent", 50f, "gauge");
            device.addBinarySensor("door", p + "_door", "door", false, "door");
            device.addSwitch("plug", p + "_plug", "OUTLET", true, "power-socket");
            device.addLight("lamp", p + "_lamp", "CCT", "CCT", 153, 500, false, 120, "lightbulb");
            device.submit();
        }
    }
}
