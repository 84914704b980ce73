// Leaflet.VectorGrid is a plugin that expects a global `L`; this module runs before it is imported.
import L from "leaflet";

window.L = L;
// VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.8 removed; marking the event stopped is what it did.
L.DomEvent.fakeStop = (e) => {
  e._stopped = true;
};
export default L;
