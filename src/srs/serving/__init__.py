"""What a server worker holds to answer requests, apart from the web layer.

``service`` is the interface the web app and the CLI call, so they never know which backend
answers; ``local_service`` is the embedded engine behind it, reading the events recorded
since training; ``exclusions`` is the default filter worked out once over the stored history;
``backends`` chooses the backend from the settings. The engine below knows nothing of workers
or requests, so it never imports from here. The Personalize and batch backends stay in
``srs.aws`` beside the clients and errors they share with the rest of AWS; ``backends``
imports them only when the settings name them.
"""
