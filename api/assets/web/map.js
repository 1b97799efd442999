// The map page (/map): every layer of /tiles/style.json, a popup on click.
const map = new maplibregl.Map({ container: 'map', style: '/tiles/style.json', hash: true });
map.addControl(new maplibregl.NavigationControl());
window.__map = map;
window.__mapIdle = false;
map.on('idle', () => { window.__mapIdle = true; });
map.on('error', (e) => { window.__mapError = String(e && e.error && e.error.message || e); });
const clickable = ['totems-circle', 'offers-circle', 'routes-line', 'footprints-fill'];
map.on('click', (e) => {
  const features = map.queryRenderedFeatures(e.point, { layers: clickable });
  if (!features.length) return;
  const p = features[0].properties;
  const box = document.createElement('div');
  const name = document.createElement('div');
  name.className = 'popup-name';
  name.textContent = p.name;
  const kind = document.createElement('div');
  kind.className = 'popup-kind';
  kind.textContent = (p.isTotem ? 'totem · ' : '') + p.kind + (p.themes ? ' · ' + p.themes : '');
  box.append(name, kind);
  if (p.url) {
    const link = document.createElement('a');
    link.href = p.url;
    link.textContent = p.url;
    box.append(link);
  }
  window.__lastPopup = p.name;
  new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(box).addTo(map);
});
for (const layer of clickable) {
  map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
}
