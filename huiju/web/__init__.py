"""What the three web front ends (the JSON API, the portal and the console) share: the runtime
stored on the Flask app, and the response that hands out an uploaded file."""
