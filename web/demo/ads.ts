// Stands in for a third-party advertising tag: the widget runs it only once "advertising" is granted.
const slot = document.getElementById('ad-slot');
if (slot) {
  slot.dataset.loaded = 'true';
  slot.textContent = document.documentElement.lang === 'it' ? 'Il tag pubblicitario è stato caricato: hai consentito la pubblicità personalizzata.' : 'The advertising tag has loaded: you allowed personalised advertising.';
}
