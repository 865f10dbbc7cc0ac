/** Whether this browser can route audio to a chosen output device (the core knows no DOM: the page asks). */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}
